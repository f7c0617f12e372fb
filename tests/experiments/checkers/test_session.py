"""Session guarantees: each violation is caught by the guarantees it breaks, and only those."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from experiments.checkers import UNKNOWN, check_session_guarantees
from experiments.checkers.session import GUARANTEES, SESSION
from experiments.history import Op

Build = Callable[..., list[Op]]


def broken(history: list[Op]) -> set[str]:
    """The guarantees (and "session") a history breaks."""
    return {name for name, r in check_session_guarantees(history).items() if r.valid is False}


class TestEachGuarantee:
    @pytest.mark.parametrize(
        ("rows", "expected"),
        [
            pytest.param([(0, "write", 1, 0, 10, "ok"), (0, "read", 1, 20, 30, "ok"),
                          (1, "read", 1, 20, 30, "ok"), (1, "write", 2, 40, 50, "ok"),
                          (0, "read", 2, 60, 70, "ok")], set(), id="all-hold"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (0, "read", None, 20, 30, "ok")],
                         {"read-your-writes"}, id="own-write-not-seen"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "cas", [1, 2], 20, 30, "ok"),
                          (1, "read", 1, 40, 50, "ok")], {"read-your-writes"},
                         id="own-cas-undone"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "read", 1, 20, 30, "ok"),
                          (1, "read", None, 40, 50, "ok")], {"monotonic-reads"},
                         id="read-goes-back-to-null"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (0, "cas", [1, 2], 20, 30, "ok"),
                          (1, "read", 2, 40, 50, "ok"), (1, "read", 1, 60, 70, "ok")],
                         {"monotonic-reads"}, id="read-goes-back-along-a-cas"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "cas", [1, 2], 20, 30, "ok"),
                          (0, "cas", [2, 3], 40, 50, "ok"), (1, "cas", [3, 1], 60, 70, "fail")],
                         set(), id="failed-cas-writes-nothing"),
            pytest.param([(0, "read", 1, 0, 10, "ok"), (0, "write", 1, 20, 30, "ok")],
                         {"writes-follow-reads"}, id="read-own-future-write"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (0, "write", 2, 20, 30, "ok"),
                          (1, "read", 2, 40, 50, "ok"), (1, "read", 1, 60, 70, "ok")],
                         set(), id="writes-seen-reversed-breaks-only-all-four-together"),
            pytest.param([(0, "write", 1, 0, 5, "info"), (0, "read", None, 10, 20, "ok"),
                          (1, "read", 1, 30, 40, "ok")], set(),
                         id="info-write-is-no-session-obligation"),
        ],
    )
    def test_broken_guarantees(self, build: Build, rows: list[tuple[Any, ...]],
                               expected: set[str]) -> None:
        """Each history breaks exactly the guarantees named (and "session" with any)."""
        history = build(*rows)

        found = broken(history)

        assert expected == found - {SESSION}
        if expected:
            assert SESSION in found

    def test_all_four_together_is_stricter(self, build: Build) -> None:
        """Writes a then b, read b then a: each guarantee alone holds, all four together fail."""
        results = check_session_guarantees(build(
            (0, "write", 1, 0, 10, "ok"), (0, "write", 2, 20, 30, "ok"),
            (1, "read", 2, 40, 50, "ok"), (1, "read", 1, 60, 70, "ok")))

        assert ([True] * 4, False) == ([results[g].valid for g in GUARANTEES],
                                       results[SESSION].valid)
        assert [0, 2, 4, 6] == results[SESSION].details["ops"]


class TestReports:
    def test_violation_names_the_operations_and_the_rules(self, build: Build) -> None:
        """A violation's details list the ops behind the cycle, and each reason in words."""
        result = check_session_guarantees(build(
            (0, "write", 1, 0, 10, "ok"), (1, "read", 1, 20, 30, "ok"),
            (1, "read", None, 40, 50, "ok")))["monotonic-reads"]
        violation = result.details["violations"][0]

        assert ([0, 2, 4], '"x"') == (result.details["ops"], violation["key"])
        assert {"initial value", "monotonic-reads"} == {r["rule"] for r in violation["cycle"]}
        assert any("read 1 (op 2) then null (op 4)" in line for line in result.lines)

    def test_phantom_breaks_every_guarantee(self, build: Build) -> None:
        """A read of a value nobody wrote fails every guarantee and is named."""
        results = check_session_guarantees(build((0, "read", 7, 0, 10, "ok")))

        assert {False} == {r.valid for r in results.values()}
        assert [0] == results["read-your-writes"].details["ops"]

    def test_value_written_twice_is_unknown(self, build: Build) -> None:
        """A key where a value was written twice cannot be decided: unknown, not a guess."""
        results = check_session_guarantees(build(
            (0, "write", 1, 0, 10, "ok"), (1, "write", 1, 20, 30, "ok"),
            (2, "read", 1, 40, 50, "ok")))

        assert {UNKNOWN} == {r.valid for r in results.values()}
        assert ['"x"'] == results[SESSION].details["ambiguous_keys"]

    def test_violation_elsewhere_beats_unknown(self, build: Build) -> None:
        """A violation on one key is reported even when another key is undecided."""
        results = check_session_guarantees(build(
            (0, "write", 1, 0, 10, "ok", "a"), (1, "write", 1, 20, 30, "ok", "a"),
            (2, "write", 5, 0, 10, "ok", "b"), (2, "read", None, 20, 30, "ok", "b")))

        assert False is results["read-your-writes"].valid
