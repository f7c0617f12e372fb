"""Consistency modes and in-node faults on the simulator: the CAP trade-off each mode makes
under a partition, lease broken by a lying clock while cp is not, a failing disk that stops
its node and loses nothing. Seeds are fixed and named in every failure message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from experiments.backends import refusals
from experiments.runner.api import RunOutcome, run_experiment
from experiments.spec import load_experiment, parse_experiment

CATALOG = Path(__file__).resolve().parents[3] / "experiments" / "catalog"


def _run(text: str, seed: int) -> RunOutcome:
    return run_experiment(parse_experiment(text), backend="sim", seed=seed, runs_dir=None)


def _partition(mode: str) -> str:
    return f"""
name: modes
cluster: {{nodes: 5, consistency: {mode}}}
workload: {{clients: 10, keys: 3, rate: 100}}
duration: 12s
nemesis:
  - {{at: 4s, fault: partition, groups: [[1, 2], [3, 4, 5]], for: 8s}}
"""


def _checks(outcome: RunOutcome) -> dict[str, Any]:
    return {c["name"]: c["valid"] for c in outcome.results["checks"]}


class TestModesUnderAPartition:
    def test_ap_answers_both_sides_and_converges(self) -> None:
        """ap: the minority side keeps answering; the history is not linearizable but the
        replicas' final reads agree (seed 4)."""
        card = _run(_partition("ap"), 4).results["scorecard"]

        assert card["sides"]["minority"]["yield"] >= 0.99, card
        assert (False, True) == (card["models"]["linearizable"], card["converged"]), card

    def test_stale_reads_on_the_minority_side_are_answered_and_stale(self) -> None:
        """stale: minority reads succeed (writes do not) and some are stale (seed 4)."""
        card = _run(_partition("stale"), 4).results["scorecard"]
        minority = card["sides"]["minority"]

        assert 0.2 < minority["yield"] < 0.8, minority
        assert minority["stale_reads"] > 0, minority

    @pytest.mark.parametrize("mode", ["cp", "lease"])
    def test_cp_and_lease_refuse_the_minority_and_stay_linearizable(self, mode: str) -> None:
        """cp and lease (clocks healthy): minority yield 0, linearizable (seed 4)."""
        card = _run(_partition(mode), 4).results["scorecard"]

        assert (0.0, "linearizable") == (card["sides"]["minority"]["yield"],
                                         card["strongest"]), card


class TestClocks:
    @pytest.mark.parametrize(("mode", "linearizable"), [("cp", True), ("lease", False)])
    def test_cap_clock_breaks_lease_not_cp(self, mode: str, linearizable: bool) -> None:
        """The catalog's cap-clock, seed 1: lease reads go stale, cp stays linearizable."""
        experiment = load_experiment(CATALOG / "cap-clock.yaml")
        data = experiment.model_dump(by_alias=True, mode="json")
        data["cluster"]["consistency"] = mode
        outcome = run_experiment(type(experiment).model_validate(data), backend="sim", seed=1,
                                 runs_dir=None)

        assert linearizable is outcome.results["scorecard"]["models"]["linearizable"]
        assert True is _checks(outcome)["faults-observed"]

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_cp_stays_linearizable_under_any_clock_fault(self, seed: int) -> None:
        """Skewed, slowed, sped-up and stepped clocks on every node, with partitions: cp
        passes (seed in the test id)."""
        text = """
name: clocks
cluster: {nodes: 5}
workload: {clients: 8, keys: 2, rate: 120}
duration: 14s
nemesis:
  - {at: 1s, fault: clock-skew, target: all, rate: 0.1, for: 5s}
  - {at: 2s, fault: partition-leader, for: 3s}
  - {at: 7s, fault: clock-jump, target: all, ms: -20000, for: 4s}
  - {at: 8s, fault: clock-skew, target: leader, rate: 8, for: 3s}
  - {at: 8.5s, fault: partition-majority, for: 2s}
expect: {linearizable: true, lost-writes: 0}
"""
        outcome = _run(text, seed)

        assert "pass" == outcome.verdict, outcome.results["checks"]


class TestDisks:
    @pytest.mark.parametrize("fault", ["disk-error", "disk-full"])
    def test_a_failing_disk_stops_its_node_and_loses_nothing(self, fault: str) -> None:
        """The leader's disk fails: it stops (and is restarted at the end), the run stays
        linearizable with no lost write, and the window shows its effect (seed 2)."""
        text = f"""
name: disks
cluster: {{nodes: 5}}
workload: {{clients: 8, keys: 2, rate: 120}}
duration: 10s
nemesis:
  - {{at: 2s, fault: {fault}, target: leader, for: 3s}}
expect: {{linearizable: true, lost-writes: 0}}
"""
        outcome = _run(text, 2)

        assert "pass" == outcome.verdict, outcome.results["checks"]
        assert 1 <= outcome.results["stats"]["storage_failures"]

    def test_a_slow_disk_is_observed(self) -> None:
        """A leader's disk 50 ms slower: every fsync waits, the node reports it (seed 2)."""
        text = """
name: slow
cluster: {nodes: 5}
workload: {clients: 8, keys: 2, rate: 120}
duration: 8s
nemesis:
  - {at: 2s, fault: disk-slow, target: leader, ms: 50, for: 3s}
expect: {linearizable: true}
"""
        outcome = _run(text, 2)

        assert "pass" == outcome.verdict, outcome.results["checks"]


class TestRefusals:
    def test_ap_refuses_faults_aimed_at_raft(self) -> None:
        """The ap mode runs no Raft: leader-churn is refused, naming it."""
        experiment = parse_experiment(
            "name: x\ncluster: {consistency: ap}\nduration: 5s\n"
            "nemesis: [{at: 1s, fault: leader-churn, for: 1s}]\n")

        assert any("leader-churn" in line and "ap" in line
                   for line in refusals("sim", experiment))
