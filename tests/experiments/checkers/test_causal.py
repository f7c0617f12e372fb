"""Causal consistency (causal+): happens-before across keys, and one order of concurrent writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from experiments.checkers import UNKNOWN, check_causal
from experiments.history import Op

Build = Callable[..., list[Op]]


class TestVerdicts:
    @pytest.mark.parametrize(
        ("rows", "expected"),
        [
            pytest.param([(0, "write", 1, 0, 10, "ok", "x"), (1, "read", 1, 20, 30, "ok", "x"),
                          (1, "write", 2, 40, 50, "ok", "y"), (2, "read", 2, 60, 70, "ok", "y"),
                          (2, "read", None, 80, 90, "ok", "x")], False,
                         id="effect-seen-before-its-cause-across-keys"),
            pytest.param([(0, "write", 1, 0, 10, "ok", "x"), (1, "read", 1, 20, 30, "ok", "x"),
                          (1, "write", 2, 40, 50, "ok", "y"), (2, "read", 2, 60, 70, "ok", "y"),
                          (2, "read", 1, 80, 90, "ok", "x")], True,
                         id="cause-seen-with-its-effect"),
            pytest.param([(0, "write", 1, 0, 10, "ok", "x"), (1, "write", 2, 40, 50, "ok", "y"),
                          (2, "read", 2, 60, 70, "ok", "y"), (2, "read", None, 80, 90, "ok", "x")],
                         True, id="unrelated-writes-may-arrive-in-any-order"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (0, "write", 2, 20, 30, "ok"),
                          (1, "read", 1, 40, 50, "ok")], True, id="stale-but-causal"),
            pytest.param([(0, "read", 1, 0, 10, "ok"), (0, "write", 1, 20, 30, "ok")], False,
                         id="read-from-own-future"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "write", 2, 0, 10, "ok"),
                          (2, "read", 1, 20, 30, "ok"), (2, "read", 2, 40, 50, "ok"),
                          (3, "read", 2, 20, 30, "ok"), (3, "read", 1, 40, 50, "ok")], False,
                         id="concurrent-writes-seen-in-two-orders"),
            pytest.param([(0, "write", 1, 0, 5, "info"), (0, "read", None, 10, 20, "ok"),
                          (1, "read", 1, 30, 40, "ok"), (1, "read", None, 50, 60, "ok")], False,
                         id="info-write-seen-then-unseen"),
            pytest.param([(0, "write", 1, 0, 5, "info"), (0, "read", None, 10, 20, "ok"),
                          (1, "read", 1, 30, 40, "ok")], True,
                         id="info-write-lands-after-its-process-went-on"),
            pytest.param([(0, "read", 7, 0, 10, "ok")], False, id="value-nobody-wrote"),
        ],
    )
    def test_verdict(self, build: Build, rows: list[tuple[Any, ...]], expected: bool) -> None:
        """Hand-made histories get the verdict causal+ demands."""
        assert expected == check_causal(build(*rows)).valid

    def test_violation_shows_the_causal_chain(self, build: Build) -> None:
        """A cross-key violation names every op of the chain that made the write visible."""
        result = check_causal(build(
            (0, "write", 1, 0, 10, "ok", "x"), (1, "read", 1, 20, 30, "ok", "x"),
            (1, "write", 2, 40, 50, "ok", "y"), (2, "read", 2, 60, 70, "ok", "y"),
            (2, "read", None, 80, 90, "ok", "x")))

        assert [0, 2, 4, 6, 8] == result.details["ops"]
        assert {"arbitration", "initial value", "  because"} == {
            r["rule"] for r in result.details["violation"]["cycle"]}
        assert any("reads from" in line for line in result.lines)

    def test_value_written_twice_is_unknown(self, build: Build) -> None:
        """A read of a value written twice has no single source: unknown."""
        result = check_causal(build((0, "write", 1, 0, 10, "ok"), (1, "write", 1, 20, 30, "ok"),
                                    (2, "read", 1, 40, 50, "ok")))

        assert (UNKNOWN, ['"x"']) == (result.valid, result.details["ambiguous_keys"])
