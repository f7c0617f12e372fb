"""``chaoslab run``: exit codes, --json, bad input, sweeps (local workers and Dask)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from experiments.cli import main

SHORT = """\
name: short
cluster: {nodes: 3}
workload: {clients: 4, keys: 2, rate: 100}
duration: 8s
nemesis:
  - {at: 2s, fault: partition-leader, for: 3s}
expect:
  linearizable: true
  lost-writes: 0
  availability: {quiet: ">= 0.9", minority: "<= 0.05"}
  recovery: "<= 5s"
"""


def write(tmp_path: Path, text: str, name: str = "short.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


class TestExitCodes:
    """0 pass, 1 fail, 2 bad input, 3 unknown."""

    def test_passing_run_exits_0_and_fills_its_directory(self, tmp_path: Path) -> None:
        """A correct store passes; the run directory holds the results."""
        code, out, _ = run(str(write(tmp_path, SHORT)), "--backend", "sim", "--seed", "2",
                           "--out", str(tmp_path / "runs"))
        results = json.loads((tmp_path / "runs/latest/results.json").read_text())

        assert (0, "pass") == (code, results["verdict"])
        assert "PASS" in out

    def test_failing_expectation_exits_1_and_prints_the_reproduce_command(
        self, tmp_path: Path
    ) -> None:
        """Expecting the minority to stay available fails a CP store."""
        text = SHORT.replace('minority: "<= 0.05"', 'minority: ">= 0.9"')
        path = write(tmp_path, text)
        code, out, _ = run(str(path), "--backend", "sim", "--seed", "2",
                           "--out", str(tmp_path / "runs"))

        assert 1 == code
        assert f"reproduce: chaoslab run {path} --backend sim --seed 2" in out

    def test_bad_file_exits_2_naming_line_and_field(self, tmp_path: Path) -> None:
        """A bad experiment file is refused before anything runs."""
        path = write(tmp_path, SHORT.replace("clients: 4", "clients: many"))
        code, _, err = run(str(path), "--backend", "sim", "--out", str(tmp_path / "runs"))

        assert 2 == code
        assert f"{path}:3:21: workload.clients:" in err
        assert not (tmp_path / "runs").exists()

    def test_simulator_only_fault_on_a_real_backend_exits_2(self, tmp_path: Path) -> None:
        """leader-churn cannot happen to real processes: refused at load, naming both."""
        path = write(tmp_path, SHORT.replace("partition-leader", "leader-churn"))
        code, _, err = run(str(path), "--backend", "local", "--out", str(tmp_path / "runs"))

        assert 2 == code
        assert "leader-churn" in err and "local backend" in err

    def test_unknown_verdict_exits_3(self, tmp_path: Path) -> None:
        """A bound on a side with no operations cannot be judged: unknown."""
        text = SHORT.replace("nemesis:\n  - {at: 2s, fault: partition-leader, for: 3s}\n", "")
        code, _, _ = run(str(write(tmp_path, text)), "--backend", "sim", "--seed", "1",
                         "--out", str(tmp_path / "runs"))

        assert 3 == code


class TestJsonAndSweeps:
    """--json prints one object per run; --seeds sweeps on workers or Dask."""

    def test_json_line_per_run(self, tmp_path: Path) -> None:
        """Each run's line has the contract's keys."""
        code, out, _ = run(str(write(tmp_path, SHORT)), "--backend", "sim", "--seeds", "1..3",
                           "--jobs", "2", "--json", "--out", str(tmp_path / "runs"))
        lines = [json.loads(line) for line in out.splitlines()]

        assert 0 == code
        assert [1, 2, 3] == sorted(line["seed"] for line in lines)
        assert {"experiment", "backend", "seed", "verdict", "dir", "checks"} <= set(lines[0])

    def test_dask_sweep_matches_the_local_one(self, tmp_path: Path) -> None:
        """Seeds run on Dask's local cluster come back exactly as from local workers."""
        distributed = pytest.importorskip("distributed")
        path = write(tmp_path, SHORT)
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster:
            code, _, _ = run(str(path), "--backend", "sim", "--seeds", "1..2", "--json",
                               "--scheduler", cluster.scheduler_address,
                               "--out", str(tmp_path / "dask"))
        run(str(path), "--backend", "sim", "--seeds", "1..2", "--json",
            "--jobs", "1", "--out", str(tmp_path / "local"))

        def histories(root: Path) -> list[str]:
            return [p.read_text() for p in sorted(root.glob("short/*/history.jsonl"))
                    if p.parent.name != "latest"]

        assert 0 == code
        assert histories(tmp_path / "local") == histories(tmp_path / "dask")
        assert len(histories(tmp_path / "dask")) == 2

    def test_unreachable_scheduler_is_bad_input(self, tmp_path: Path) -> None:
        """A scheduler address where nothing answers is exit 2 with the address."""
        code, _, err = run(str(write(tmp_path, SHORT)), "--backend", "sim", "--seeds", "1..2",
                           "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "r"))

        assert 2 == code
        assert "127.0.0.1:9" in err


class TestReplay:
    """A run directory's experiment.yaml replays the run with no options at all."""

    def test_resolved_file_brings_its_seed_and_backend(self, tmp_path: Path) -> None:
        """Running runs/latest/experiment.yaml repeats seed and backend, same history."""
        run(str(write(tmp_path, SHORT)), "--backend", "sim", "--seed", "4",
            "--out", str(tmp_path / "first"))
        resolved = tmp_path / "first" / "latest" / "experiment.yaml"
        code, _, _ = run(str(resolved), "--out", str(tmp_path / "again"))

        def history(root: Path) -> str:
            return (root / "latest" / "history.jsonl").read_text()

        assert 0 == code
        assert history(tmp_path / "first") == history(tmp_path / "again")
        assert (tmp_path / "again" / "latest").resolve().name.endswith("-sim-4")
