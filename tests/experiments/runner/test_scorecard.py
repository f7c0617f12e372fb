"""The CAP scorecard: lost updates, per-side figures, the strongest model, and many runs
folded into one."""

from __future__ import annotations

from typing import Any

from experiments.history import Op
from experiments.runner.analysis import FaultWindow
from experiments.runner.scorecard import aggregate, lost_updates, scorecard

S = 1_000_000_000


class History:
    """Builds histories op by op (one process per op unless told)."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def add(self, process: int, f: str, value: Any, start: float, end: float, *,
            node: str = "n1", result: Any = None, outcome: str = "ok",
            **extra: Any) -> None:
        self.ops.append(Op(index=len(self.ops), process=process, type="invoke", f=f, key="k",
                           value=value, time=int(start * S), node=node, extra=extra))
        done = result if f == "read" and outcome == "ok" else value
        self.ops.append(Op(index=len(self.ops), process=process, type=outcome,  # type: ignore[arg-type]
                           f=f, key="k", value=done, time=int(end * S), node=node,
                           extra=extra))


class TestLostUpdates:
    def test_two_acknowledged_cas_from_one_old_value(self) -> None:
        """cas 1->2 and cas 1->3 both acknowledged: one update was lost (the later one)."""
        h = History()
        h.add(0, "write", 1, 0.0, 0.1)
        h.add(1, "cas", [1, 2], 0.2, 0.3, node="n1")
        h.add(2, "cas", [1, 3], 0.2, 0.4, node="n4")

        assert [4] == [op.invoke.index for op in lost_updates(h.ops)]

    def test_a_chain_of_cas_loses_nothing(self) -> None:
        """cas 1->2 then 2->3: each built on the other's result."""
        h = History()
        h.add(0, "write", 1, 0.0, 0.1)
        h.add(1, "cas", [1, 2], 0.2, 0.3)
        h.add(2, "cas", [2, 3], 0.4, 0.5)

        assert [] == lost_updates(h.ops)


class TestScorecard:
    def test_sides_staleness_and_models(self) -> None:
        """A minority read of the old value after the majority wrote a new one is stale on
        the minority side; the history is not linearizable."""
        h = History()
        h.add(0, "write", 1, 0.0, 0.1, node="n1")
        h.add(1, "write", 2, 2.0, 2.1, node="n3")
        h.add(2, "read", None, 2.5, 2.6, node="n1", result=1)
        window = FaultWindow(id=0, fault="partition", start=1 * S, end=3 * S,
                             sides=(("n3", "n4", "n5"), ("n1", "n2")), targets=("n1", "n2"))
        card = scorecard(h.ops, [window], duration=4 * S, size=5, grace=0,
                         consistency="stale", time_limit_s=5)
        minority = card["sides"]["minority"]

        assert (1, 1, 1) == (minority["reads"], minority["stale_reads"],
                             minority["worst_versions"])
        assert ("stale", False) == (card["consistency"], card["models"]["linearizable"])

    def test_aggregate_sums_counts_and_counts_models(self) -> None:
        """Two runs: counts add up, yields are recomputed, the strongest models counted."""
        side = {"invoked": 10, "answered": 5, "yield": 0.5, "p50_ms": 1.0, "p99_ms": 3.0,
                "reads": 4, "stale_reads": 1, "stale_rate": 0.25, "worst_versions": 2,
                "worst_ms": 9.0, "lost_writes": 0, "lost_updates": 1}
        card = {"consistency": "ap", "sides": {"quiet": side, "majority": side,
                                               "minority": side},
                "lost_writes": 0, "lost_updates": 3, "strongest": "causal",
                "anomalies": ["linearizable"], "converged": True, "convergence_s": 0.2}
        total = aggregate([card, {**card, "strongest": "eventual", "convergence_s": 0.4}])

        assert (20, 0.5, 2, {"causal": 1, "eventual": 1}, 6) == (
            total["sides"]["minority"]["invoked"], total["sides"]["minority"]["yield"],
            total["sides"]["quiet"]["stale_reads"], total["strongest"], total["lost_updates"])
        assert {"median": 0.3, "max": 0.4} == total["convergence_s"]


class TestLostWritesAfterPolling:
    def test_only_each_nodes_last_final_read_proves_a_loss(self) -> None:
        """A lagging node's first final read of an old value is no proof once its last
        final read returns the acknowledged write."""
        from experiments.runner.analysis import lost_writes

        h = History()
        h.add(0, "write", 1, 0.0, 0.1, node="n1")
        h.add(1, "write", 2, 0.2, 0.3, node="n3")
        h.add(2, "read", None, 1.0, 1.1, node="n1", result=1, final=True)
        h.add(2, "read", None, 1.2, 1.3, node="n1", result=2, final=True)
        lagging_only = History()
        lagging_only.ops = h.ops[:6]

        assert ([], [2]) == ([w.index for w in lost_writes(h.ops)],
                             [w.index for w in lost_writes(lagging_only.ops)])
