"""The local backend's in-node faults and consistency modes: failpoint calls with the
cluster's token, a failing disk that stops and restarts its node, an ap cluster judged."""

from __future__ import annotations

from pathlib import Path

from experiments.runner.api import run_experiment
from experiments.spec import parse_experiment

IN_NODE = """\
name: local-in-node
cluster: {nodes: 3}
workload: {clients: 6, keys: 2, rate: 60}
duration: 12s
nemesis:
  - {at: 1s, fault: clock-jump, target: leader, ms: -8000, for: 3s}
  - {at: 1.5s, fault: disk-slow, target: follower, ms: 30, for: 3s}
  - {at: 6s, fault: disk-error, target: leader, for: 3s}
expect:
  linearizable: true
  lost-writes: 0
"""

AP = """\
name: local-ap
cluster: {nodes: 3, consistency: ap}
workload: {clients: 6, keys: 2, rate: 60}
duration: 8s
nemesis:
  - {at: 2s, fault: partition, groups: [[1], [2, 3]], for: 6s}
"""


class TestLocalInNode:
    def test_clock_and_disk_faults_on_real_nodes(self, tmp_path: Path) -> None:
        """cp under a clock step, a slow disk and a failing disk: linearizable, nothing
        lost, every window observed (the failing disk stopped its node)."""
        outcome = run_experiment(parse_experiment(IN_NODE), backend="local", seed=5,
                                 runs_dir=tmp_path, render=False)
        checks = {c["name"]: c for c in outcome.results["checks"]}

        assert "pass" == outcome.verdict, checks
        assert "3 of 3" == checks["faults-observed"]["measured"], checks

    def test_an_ap_cluster_answers_the_minority_and_converges(self, tmp_path: Path) -> None:
        """ap on real processes: the isolated node's clients are answered, final reads
        agree after the heal."""
        outcome = run_experiment(parse_experiment(AP), backend="local", seed=5,
                                 runs_dir=tmp_path, render=False)
        card = outcome.results["scorecard"]

        assert card["sides"]["minority"]["yield"] >= 0.95, card
        assert True is card["converged"], card
