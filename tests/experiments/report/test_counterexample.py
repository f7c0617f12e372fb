"""A violation is explained: the prefix with the state after each op, and why each failing op
cannot come next; the view places just those operations on their own timeline."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.checkers import check_linearizable
from experiments.history import read_history
from experiments.report import build_view, load_run
from experiments.report.counterexample import counterexample_view, needs
from experiments.report.testing import SampleRuns


class TestCheckerExplanation:
    def test_prefix_ops_carry_the_state_after_them(self, tiny_fail: Path) -> None:
        """Each shown prefix op has the register's value after it, ending in the final state."""
        found = check_linearizable(read_history(tiny_fail / "history.jsonl"))
        cx = found.details["counterexample"]

        assert ["1", "2", "2"] == [op["state"] for op in cx["prefix_tail"]]
        assert cx["state"] == cx["prefix_tail"][-1]["state"]

    def test_failing_ops_say_why(self, tiny_fail: Path) -> None:
        """The read that cannot follow the prefix is illegal in its state, and says so."""
        found = check_linearizable(read_history(tiny_fail / "history.jsonl"))
        failing = found.details["counterexample"]["failing"]

        assert [(7, False, "not legal in state 2")] == [
            (op["index"], op["legal"], op["why"]) for op in failing]

    def test_generated_failing_run_has_a_searched_counterexample(
            self, samples: SampleRuns) -> None:
        """The split-brain sample is refuted by search: a long prefix and reads that cannot
        follow it (the fixture the failing report is tested with)."""
        results = json.loads((samples.failing / "results.json").read_text())
        cx = results["linearizability"]["counterexample"]

        assert (False, True) == (results["linearizability"]["valid"], cx["prefix_length"] > 100)
        assert all(op["why"].startswith("not legal in state") for op in cx["failing"])


class TestView:
    def test_ops_are_numbered_in_linearization_order(self, tiny_fail: Path) -> None:
        """Prefix ops get their place in the prefix; failing ops none, and their reason."""
        cx = build_view(load_run(tiny_fail)).counterexample

        assert cx is not None
        assert [(1, "prefix"), (2, "prefix"), (3, "prefix"), (None, "failing")] == [
            (op.order, op.role) for op in cx.ops]
        assert ("needs 1", "not legal in state 2") == (cx.ops[-1].needs, cx.ops[-1].why)

    def test_lanes_name_process_and_node(self, tiny_fail: Path) -> None:
        """Each lane is one process, named with the node its client was bound to."""
        cx = build_view(load_run(tiny_fail)).counterexample

        assert cx is not None
        assert ["process 0 · n1", "process 1 · n2", "process 2 · n3"] == [
            name for name, _ in cx.lanes]

    def test_links_point_at_history_lines(self, tiny_fail: Path) -> None:
        """Each op links to its invocation's line in history.jsonl (index + 1)."""
        cx = build_view(load_run(tiny_fail)).counterexample

        assert cx is not None
        assert [1, 2, 6, 8] == [op.line for op in cx.ops]

    def test_real_time_order_is_kept_on_the_ordinal_axis(self, tiny_fail: Path) -> None:
        """An op that returned before another was called is drawn wholly left of it."""
        cx = build_view(load_run(tiny_fail)).counterexample

        assert cx is not None
        write, _, read, stale = cx.ops
        assert write.x1 < read.x0 < read.x1 < stale.x0

    def test_shortcut_counterexample_has_a_reason_and_no_prefix(self) -> None:
        """A counterexample found without search shows the model's reason and its ops."""
        cx = counterexample_view({
            "key": '"x"', "state": "null", "prefix_length": 0, "prefix_tail": [],
            "reason": "no order can explain the first operation",
            "failing": [{"index": 4, "process": 1, "f": "read", "value": 1, "type": "ok",
                         "start": 40, "end": 50},
                        {"index": 2, "process": 0, "f": "write", "value": 2, "type": "ok",
                         "start": 20, "end": 30}]})

        assert ("no order can explain the first operation", 0, 2) == (
            cx.reason, cx.shown_prefix, len(cx.ops))

    def test_info_op_is_open_to_the_right(self) -> None:
        """An info op may act at any later time: its bar is open and reaches the right edge."""
        cx = counterexample_view({
            "key": '"x"', "state": "1", "prefix_length": 1,
            "prefix_tail": [{"index": 0, "process": 0, "f": "write", "value": 1,
                             "type": "info", "error": "timeout", "start": 0, "end": 10,
                             "state": "1"}],
            "failing": [{"index": 3, "process": 1, "f": "read", "value": 5, "type": "ok",
                         "start": 20, "end": 30, "why": "not legal in state 1"}]})

        assert (True, False) == (cx.ops[0].open, cx.ops[1].open)
        assert cx.ops[0].x1 > cx.ops[1].x1


def test_needs_in_words() -> None:
    """What each register op needs to be legal, in words."""
    assert ["needs 3", "any state", "needs 1", "needs a value other than 1"] == [
        needs({"f": "read", "value": 3, "type": "ok"}),
        needs({"f": "write", "value": 3, "type": "ok"}),
        needs({"f": "cas", "value": [1, 2], "type": "ok"}),
        needs({"f": "cas", "value": [1, 2], "type": "fail"}),
    ]
