"""Eventual consistency: replicas' final reads agree after the heal, and how soon."""

from __future__ import annotations

import dataclasses
from typing import Any

from experiments.checkers import UNKNOWN, check_eventual
from experiments.history import Op, validate_history

MS = 1_000_000


def history(*rows: tuple[Any, ...], heal: int | None = None) -> list[Op]:
    """Ops from rows ``(process, node, f, value, start_ms, end_ms, outcome[, final])`` on key
    "x", plus a partition from 0 to ``heal`` ms; ``end_ms`` None leaves the op pending."""
    events: list[tuple[int, int, Op]] = []
    if heal is not None:
        for kind, at in (("invoke", 0), ("info", heal * MS)):
            events.append((at, len(events), Op(index=0, process="nemesis", type=kind,
                                               f="partition", time=at)))
    for process, node, f, value, start, end, outcome, *rest in rows:
        extra = {"final": True} if rest and rest[0] else {}
        called = None if f == "read" else value
        events.append((start * MS, len(events), Op(
            index=0, process=process, type="invoke", f=f, key="x", value=called,
            time=start * MS, node=node, extra=extra)))
        if end is not None:
            events.append((end * MS, len(events), Op(
                index=0, process=process, type=outcome, f=f, key="x", value=value,
                time=end * MS, node=node, extra=extra)))
    ordered = [op for _, _, op in sorted(events, key=lambda e: (e[0], e[1]))]
    ops = [dataclasses.replace(op, index=i) for i, op in enumerate(ordered)]
    validate_history(ops)
    return ops


class TestConvergence:
    def test_agreeing_replicas_converge_with_the_time_it_took(self) -> None:
        """All replicas' last final reads agree: valid, timed from the heal to the last settle."""
        result = check_eventual(history(
            (0, "n1", "write", 1, 10, 20, "ok"),
            (1, "n1", "read", 1, 1000, 1010, "ok", True),
            (2, "n2", "read", None, 1000, 1010, "ok", True),
            (2, "n2", "read", 1, 1500, 1510, "ok", True),
            heal=500))

        assert (True, 1.01) == (result.valid, result.details["convergence_s"])

    def test_diverged_replicas_are_named(self) -> None:
        """Replicas whose last final reads differ: invalid, each replica's value and op named."""
        result = check_eventual(history(
            (0, "n1", "write", 1, 10, 20, "ok"),
            (1, "n1", "read", 1, 1000, 1010, "ok", True),
            (2, "n2", "read", None, 1000, 1010, "ok", True),
            heal=500))

        assert False is result.valid
        assert {"n1": "1", "n2": "null"} == {
            replica: f["value"] for replica, f in result.details["diverged"][0]["finals"].items()}
        assert [4, 5] == result.details["ops"]

    def test_too_slow_is_a_violation(self) -> None:
        """Agreeing later than the bound after the heal is invalid."""
        result = check_eventual(history(
            (0, "n1", "write", 1, 10, 20, "ok"),
            (1, "n1", "read", 1, 1000, 1010, "ok", True),
            (2, "n2", "read", None, 1000, 1010, "ok", True),
            (2, "n2", "read", 1, 5000, 5010, "ok", True),
            heal=500), bound_s=2.0)

        assert (False, 4.51) == (result.valid, result.details["convergence_s"])

    def test_final_reads_that_are_not_marked_do_not_count(self) -> None:
        """Only reads marked final are compared: a stale unmarked read is fine."""
        result = check_eventual(history(
            (0, "n1", "write", 1, 10, 20, "ok"),
            (1, "n2", "read", None, 600, 610, "ok"),
            (2, "n1", "read", 1, 1000, 1010, "ok", True),
            (3, "n2", "read", 1, 1000, 1010, "ok", True),
            heal=500))

        assert True is result.valid


class TestUndecided:
    def test_no_final_reads_is_unknown(self) -> None:
        """Without final reads nothing can be compared: unknown."""
        result = check_eventual(history((0, "n1", "write", 1, 10, 20, "ok"), heal=500))

        assert UNKNOWN == result.valid

    def test_a_replica_without_a_final_read_is_unknown(self) -> None:
        """A replica seen in the history but with no ok final read leaves it undecided."""
        result = check_eventual(history(
            (0, "n3", "write", 1, 10, 20, "ok"),
            (1, "n1", "read", 1, 1000, 1010, "ok", True),
            (2, "n2", "read", 1, 1000, 1010, "ok", True),
            (4, "n3", "read", 1, 1000, 1010, "info", True),
            heal=500))

        assert (UNKNOWN, [{"key": '"x"', "replicas": ["n3"]}]) == (
            result.valid, result.details["missing"])

    def test_a_fault_still_in_force_is_unknown(self) -> None:
        """A nemesis operation that never ended means there was no heal to measure from."""
        ops = history((0, "n1", "write", 1, 10, 20, "ok"),
                      (1, "n1", "read", 1, 1000, 1010, "ok", True))
        ops.append(Op(index=len(ops), process="nemesis", type="invoke", f="kill", time=2000 * MS))

        assert UNKNOWN == check_eventual(ops).valid
