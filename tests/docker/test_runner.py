"""The docker backend: an experiment on the compose cluster, through its Toxiproxy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.runner.api import run_experiment
from experiments.spec import parse_experiment

SHORT = """\
name: docker-short
cluster: {nodes: 5}
workload: {clients: 5, keys: 2, rate: 40}
duration: 25s
nemesis:
  - {at: 3s, fault: partition-leader, for: 6s}
  - {at: 13s, fault: kill, target: leader, for: 4s}
expect:
  linearizable: true
  lost-writes: 0
  availability: {minority: "<= 0.05"}
  recovery: "<= 10s"
"""


class TestDockerRun:
    """A whole run against a compose project of its own, removed afterwards."""

    def test_partition_and_kill_on_containers(
        self, engine: Any, images: None, tmp_path: Path
    ) -> None:
        """The run passes, both faults were observed, and its own project is gone (it starts
        a project of its own from the built images, so it runs once, not per proxy server)."""
        outcome = run_experiment(parse_experiment(SHORT), backend="docker", seed=2,
                                 runs_dir=tmp_path)
        checks = {c["name"]: c for c in outcome.results["checks"]}
        left = engine.containers.list(all=True, filters={"label": "io.chaoslab.role"})
        projects = {c.labels.get("com.docker.compose.project", "") for c in left}

        assert "pass" == outcome.verdict, checks
        assert "2 of 2" == checks["faults-observed"]["measured"]
        assert not any(p.startswith("chaoslab-run-") for p in projects)
