"""Whole runs on the simulator: determinism, replay, verdicts, the fault guard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from experiments.backends.sim import SimBackend
from experiments.errors import BackendFailure
from experiments.history import format_history
from experiments.runner.api import run_experiment
from experiments.spec import load_experiment, parse_experiment

CATALOG = Path(__file__).resolve().parents[3] / "experiments" / "catalog"

SHORT = """\
name: short
cluster: {nodes: 5}
workload: {clients: 6, keys: 2, rate: 150}
duration: 12s
nemesis: {random: [partition-majority, kill, pause, latency, loss], every: 3s, for: 2s,
          recovery: 4s, compose: 0.5}
expect:
  linearizable: true
  lost-writes: 0
  availability: {quiet: ">= 0.9"}
  recovery: "<= 5s"
"""


class TestDeterminism:
    """The same experiment and seed give the same run, byte for byte."""

    def test_same_seed_same_history_and_events(self) -> None:
        """Two runs of seed 5 record identical histories and events."""
        experiment = parse_experiment(SHORT)
        first = run_experiment(experiment, backend="sim", seed=5, runs_dir=None)
        again = run_experiment(experiment, backend="sim", seed=5, runs_dir=None)

        assert format_history(first.history) == format_history(again.history)
        assert first.events == again.events

    def test_another_seed_another_history(self) -> None:
        """Seeds 5 and 6 differ."""
        experiment = parse_experiment(SHORT)
        a = run_experiment(experiment, backend="sim", seed=5, runs_dir=None)
        b = run_experiment(experiment, backend="sim", seed=6, runs_dir=None)

        assert format_history(a.history) != format_history(b.history)

    def test_resolved_experiment_replays_the_run(self, tmp_path: Path) -> None:
        """experiment.yaml of a random-nemesis run is a fixed schedule that replays it."""
        experiment = parse_experiment(SHORT)
        first = run_experiment(experiment, backend="sim", seed=9, runs_dir=tmp_path,
                               render=False)
        assert first.dir is not None
        replay = load_experiment(first.dir / "experiment.yaml")
        again = run_experiment(replay, backend="sim", seed=9, runs_dir=None)

        assert isinstance(replay.nemesis, tuple) and replay.nemesis
        assert format_history(first.history) == format_history(again.history)


class TestRunDirectory:
    """A run writes the files of DESIGN.md's run directory."""

    def test_files_and_latest_link(self, tmp_path: Path) -> None:
        """experiment.yaml, history, events, results, and runs/latest pointing at them."""
        outcome = run_experiment(parse_experiment(SHORT), backend="sim", seed=1,
                                 runs_dir=tmp_path, render=False)
        assert outcome.dir is not None
        names = sorted(p.name for p in outcome.dir.iterdir())

        assert ["events.jsonl", "experiment.yaml", "history.jsonl", "results.json"] == names
        assert (tmp_path / "latest").resolve() == outcome.dir.resolve()
        assert outcome.dir.name.endswith("-sim-1")


@pytest.mark.parametrize("path", sorted(CATALOG.glob("*.yaml")), ids=lambda p: p.stem)
def test_catalog_passes_on_the_simulator(path: Path) -> None:
    """Every catalog experiment passes with seed 1 on the simulator (a correct store)."""
    outcome = run_experiment(load_experiment(path), backend="sim", seed=1, runs_dir=None)
    failed = [c for c in outcome.results["checks"] if c["valid"] is not True]

    assert "pass" == outcome.verdict, failed


class TestVerdicts:
    """Broken stores fail; a fault layer that does nothing makes the verdict unknown."""

    def test_stale_reads_of_a_seeded_bug_fail_the_run(self) -> None:
        """Reads served without ReadIndex by an isolated leader are caught (seed printed)."""
        experiment = parse_experiment(
            "name: bug\ncluster: {nodes: 5, unsafe: leader-reads-without-readindex, "
            "allow-unsafe: true}\nworkload: {clients: 10, keys: 1, rate: 300, "
            "mix: {read: 3, write: 1, cas: 0}}\nduration: 12s\nnemesis:\n"
            "  - {at: 2s, fault: partition-leader, for: 6s}\nexpect: {linearizable: true}\n"
        )
        verdicts = {}
        for seed in range(1, 6):
            verdicts[seed] = run_experiment(experiment, backend="sim", seed=seed,
                                            runs_dir=None).verdict
            if verdicts[seed] == "fail":
                break

        assert "fail" in verdicts.values(), f"seeds tried: {verdicts}"

    def test_a_fault_with_no_effect_makes_the_verdict_unknown(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If partitions silently do nothing, the run cannot pass."""
        monkeypatch.setattr(SimBackend, "apply", lambda self, fault: (lambda: None))
        experiment = parse_experiment(
            "name: broken\nduration: 10s\nnemesis:\n"
            "  - {at: 2s, fault: partition-majority, for: 4s}\nexpect: {linearizable: true}\n"
        )
        outcome = run_experiment(experiment, backend="sim", seed=1, runs_dir=None)
        observed: Any = next(c for c in outcome.results["checks"]
                             if c["name"] == "faults-observed")

        assert ("unknown", "unknown") == (outcome.verdict, observed["valid"])

    def test_a_fault_that_cannot_be_applied_makes_the_verdict_unknown(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A backend that refuses a fault: the run goes on, says why, and cannot pass."""

        def refuse(self: SimBackend, fault: Any) -> Any:
            raise BackendFailure("the proxy server refused")

        monkeypatch.setattr(SimBackend, "apply", refuse)
        experiment = parse_experiment(
            "name: refused\nduration: 8s\nnemesis:\n"
            "  - {at: 2s, fault: kill, target: leader, for: 2s}\nexpect: {linearizable: true}\n"
        )
        outcome = run_experiment(experiment, backend="sim", seed=1, runs_dir=None)
        observed = next(c for c in outcome.results["checks"] if c["name"] == "faults-observed")

        assert "unknown" == outcome.verdict
        assert "the proxy server refused" in observed["summary"]
        assert ["invoke", "info"] == [op.type for op in outcome.history if op.process == "nemesis"]
