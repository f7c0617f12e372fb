"""``chaoslab cap``: the same experiment per consistency mode, the scorecard side by side,
exit codes that judge only the experiment's own mode by its expectations."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.runner.cap import for_mode, parse_modes
from experiments.spec import parse_experiment

SHORT = """\
name: capshort
cluster: {nodes: 3}
workload: {clients: 6, keys: 2, rate: 100}
duration: 6s
nemesis:
  - {at: 2s, fault: partition, groups: [[1], [2, 3]], for: 4s}
expect: {linearizable: true}
"""


class TestModes:
    def test_parse_modes(self) -> None:
        """A comma list of known modes, in order."""
        assert ("ap", "cp") == parse_modes("ap, cp")

    @pytest.mark.parametrize("text", ["", "cp,cp", "cp,bogus"])
    def test_bad_modes_are_refused(self, text: str) -> None:
        """Empty, repeated or unknown modes are a usage error naming the modes."""
        with pytest.raises(click.BadParameter, match="cp, lease, stale, ap"):
            parse_modes(text)

    def test_for_mode_renames_and_switches(self) -> None:
        """A mode's runs are named after it and run its consistency."""
        variant = for_mode(parse_experiment(SHORT), "stale")

        assert ("capshort-stale", "stale") == (variant.name, variant.cluster.consistency)


class TestCommand:
    def test_scorecard_per_mode_on_the_simulator(self, tmp_path: Path) -> None:
        """cp and ap over seed 3: exit 0 (cp met its expectations; ap is only reported),
        a summary per mode, and each run's results.json holds its scorecard."""
        path = tmp_path / "short.yaml"
        path.write_text(SHORT)
        result = CliRunner().invoke(
            main, ["cap", str(path), "--modes", "cp,ap", "--seed", "3", "--backend", "sim",
                   "--out", str(tmp_path / "runs"), "--json"])
        summary = json.loads(result.stdout.splitlines()[0])
        results = json.loads(
            (tmp_path / "runs" / "capshort-ap" / "latest" / "results.json").read_text())

        assert 0 == result.exit_code, result.output
        assert ["cp", "ap"] == list(summary["modes"])
        assert {"pass": 1, "fail": 0, "unknown": 0} == summary["modes"]["cp"]["verdicts"]
        assert "ap" == results["scorecard"]["consistency"]

    def test_a_mode_the_backend_cannot_run_is_bad_input(self, tmp_path: Path) -> None:
        """ap with a fault aimed at Raft: exit 2 naming the mode, nothing runs."""
        path = tmp_path / "churn.yaml"
        path.write_text("name: churn\nduration: 4s\n"
                        "nemesis: [{at: 1s, fault: leader-churn, for: 1s}]\n")
        result = CliRunner().invoke(main, ["cap", str(path), "--modes", "cp,ap", "--seed", "1",
                                           "--out", str(tmp_path / "runs")])

        assert 2 == result.exit_code
        assert "mode ap" in result.output
