"""Availability per window and side, lost writes, recovery and fault evidence."""

from __future__ import annotations

from typing import Any

from experiments.history import Op
from experiments.runner.analysis import (
    FaultWindow,
    availability,
    fault_evidence,
    lost_writes,
    recovery_s,
    windows,
)

S = 1_000_000_000


class History:
    """Builds histories op by op."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def add(self, process: int, f: str, key: str, value: Any, start: float, end: float,
            outcome: str = "ok", node: str = "n1", result: Any = None, **extra: Any) -> None:
        self.ops.append(Op(index=len(self.ops), process=process, type="invoke", f=f, key=key,
                           value=value, time=int(start * S), node=node, extra=extra))
        done = result if (outcome == "ok" and f == "read") else value
        error = "mismatch" if outcome == "mismatch" else None
        self.ops.append(Op(index=len(self.ops), process=process,
                           type="fail" if outcome == "mismatch" else outcome,  # type: ignore[arg-type]
                           f=f, key=key, value=done, time=int(end * S), node=node, error=error,
                           extra=extra))


PARTITION = FaultWindow(id=0, fault="partition-leader", start=10 * S, end=20 * S,
                        sides=(("n1", "n2", "n4", "n5"), ("n3",)), targets=("n3",),
                        value={"cut": ["n3->n1"]})


class TestWindows:
    """The run is cut at every fault start and end."""

    def test_quiet_fault_quiet(self) -> None:
        """One fault in the middle makes three windows."""
        spans = windows([PARTITION], 30 * S)

        assert ["quiet", "fault", "quiet"] == [s.kind for s in spans]

    def test_composed_faults_share_a_window(self) -> None:
        """Two faults over the same interval are one fault window naming both."""
        latency = FaultWindow(id=1, fault="latency", start=10 * S, end=20 * S)
        spans = windows([PARTITION, latency], 30 * S)

        assert ("partition-leader", "latency") == spans[1].faults


class TestAvailability:
    """Yield per side: answered / invoked, answered during the window."""

    def test_minority_and_majority_are_counted_apart(self) -> None:
        """Ops on n3 (cut off) fail; ops on n1 succeed."""
        h = History()
        h.add(0, "write", "k", 1, 12, 12.01, node="n1")
        h.add(1, "write", "k", 2, 12, 13, outcome="info", node="n3")
        h.add(0, "read", "k", None, 25, 25.01, node="n1", result=1)
        table = availability(h.ops, [PARTITION], duration=30 * S, size=5, grace=S)

        assert (1.0, 0.0, 1.0) == (
            table["totals"]["majority"]["yield"],
            table["totals"]["minority"]["yield"],
            table["totals"]["quiet"]["yield"],
        )

    def test_answer_after_the_heal_does_not_count_for_the_window(self) -> None:
        """An op invoked during the partition and answered after it was not available."""
        h = History()
        h.add(1, "write", "k", 2, 19.5, 20.5, node="n3")
        table = availability(h.ops, [PARTITION], duration=30 * S, size=5, grace=S)

        assert 0.0 == table["totals"]["minority"]["yield"]

    def test_grace_leaves_out_the_first_election(self) -> None:
        """Ops invoked in the first second of the fault are not in the totals."""
        h = History()
        h.add(0, "write", "k", 1, 10.2, 10.9, outcome="info", node="n1")
        table = availability(h.ops, [PARTITION], duration=30 * S, size=5, grace=S)

        assert 0 == table["totals"]["majority"]["invoked"]

    def test_cas_mismatch_counts_as_answered(self) -> None:
        """A cas that found another value is a definite answer."""
        h = History()
        h.add(0, "cas", "k", [1, 2], 1, 1.01, outcome="mismatch")
        table = availability(h.ops, [], duration=30 * S, size=5, grace=0)

        assert 1.0 == table["totals"]["quiet"]["yield"]


class TestLostWrites:
    """A final read older than an acknowledged write proves the write lost."""

    def test_final_read_of_an_older_value(self) -> None:
        """write 1, write 2 (acknowledged), final read 1: write 2 is lost."""
        h = History()
        h.add(0, "write", "k", 1, 1, 2)
        h.add(0, "write", "k", 2, 3, 4)
        h.add(0, "read", "k", None, 10, 11, result=1, final=True)

        assert [2] == [w.value for w in lost_writes(h.ops)]

    def test_concurrent_writes_lose_nothing(self) -> None:
        """Either order of two overlapping writes explains the final read."""
        h = History()
        h.add(0, "write", "k", 1, 1, 5)
        h.add(1, "write", "k", 2, 2, 4)
        h.add(0, "read", "k", None, 10, 11, result=1, final=True)

        assert [] == lost_writes(h.ops)

    def test_final_null_after_an_acknowledged_write(self) -> None:
        """Nothing there after an acknowledged write: lost."""
        h = History()
        h.add(0, "write", "k", 1, 1, 2)
        h.add(0, "read", "k", None, 10, 11, result=None, final=True)

        assert 1 == len(lost_writes(h.ops))


class TestRecoveryAndEvidence:
    """Recovery is measured from the heal; a fault needs an observable effect."""

    def test_recovery_is_first_answered_write_after_the_heal(self) -> None:
        """The write that completes 0.5 s after the heal sets recovery."""
        h = History()
        h.add(0, "write", "k", 1, 19.9, 20.5)
        h.add(0, "read", "k", None, 20.1, 20.2, result=1)

        assert 0.5 == recovery_s(h.ops, 20 * S)

    def test_cut_links_that_dropped_messages_are_evidence(self) -> None:
        """n3 could not deliver to n1 during the window: the cut happened."""
        found = fault_evidence(PARTITION, [], [], undelivered_before={3: {1: 0}},
                               undelivered_after={3: {1: 7}}, quiet_p50_ms=None)

        assert found is not None and "n3->n1: 7" in found

    def test_nothing_observed_is_none(self) -> None:
        """No drops, no failures: no evidence."""
        found = fault_evidence(PARTITION, [], [], undelivered_before={},
                               undelivered_after={}, quiet_p50_ms=None)

        assert found is None


LATENCY = FaultWindow(id=1, fault="latency", start=10 * S, end=20 * S,
                      targets=("n1", "n2", "n3"), value={"ms": 100.0})


class TestLatencyEvidence:
    """A latency window shows itself by slower answers, or by answers that never came."""

    def _history(self, timed_out: int, fast: int) -> History:
        h = History()
        for i in range(timed_out):
            h.add(i, "write", "k", i, 11 + i * 0.1, 12 + i * 0.1, outcome="info")
        for i in range(fast):
            h.add(100 + i, "read", "k", None, 11 + i * 0.1, 11.005 + i * 0.1)
        return h

    def test_most_operations_timing_out_is_evidence(self) -> None:
        """6 of 8 timed out; the two answered in 5 ms: the latency took effect."""
        found = fault_evidence(LATENCY, self._history(6, 2).ops, [], undelivered_before={},
                               undelivered_after={}, quiet_p50_ms=5.0)

        assert found is not None and "6 of 8" in found

    def test_a_few_timeouts_among_fast_answers_are_not(self) -> None:
        """1 of 8 timed out and the rest were as fast as when quiet: no evidence."""
        found = fault_evidence(LATENCY, self._history(1, 7).ops, [], undelivered_before={},
                               undelivered_after={}, quiet_p50_ms=5.0)

        assert found is None
