"""The local backend: an experiment on real node processes behind the embedded proxy."""

from __future__ import annotations

from pathlib import Path

from experiments.backends import BackendOptions, open_backend
from experiments.runner.api import run_experiment
from experiments.spec import parse_experiment

SHORT = """\
name: local-short
cluster: {nodes: 3}
workload: {clients: 6, keys: 2, rate: 60}
duration: 14s
nemesis:
  - {at: 2s, fault: partition-leader, for: 4s}
  - {at: 8s, fault: kill, target: leader, for: 3s}
expect:
  linearizable: true
  lost-writes: 0
  availability: {minority: "<= 0.05"}
  recovery: "<= 5s"
"""


class TestLocalRun:
    """A whole run on real processes: judged, recorded, and nothing left running."""

    def test_partition_and_kill_on_real_nodes(self, tmp_path: Path) -> None:
        """The run passes, every fault was observed, and the logs were collected."""
        outcome = run_experiment(parse_experiment(SHORT), backend="local", seed=3,
                                 runs_dir=tmp_path)
        checks = {c["name"]: c for c in outcome.results["checks"]}
        assert outcome.dir is not None

        assert "pass" == outcome.verdict, checks
        assert "2 of 2" == checks["faults-observed"]["measured"]
        assert sorted(p.name for p in (outcome.dir / "logs").iterdir()) == [
            "n1.log", "n2.log", "n3.log", "proxy.log"]

    def test_stop_leaves_nothing_running(self, tmp_path: Path) -> None:
        """After stop the cluster directory's processes are gone and it is removed."""
        cluster = open_backend("local", parse_experiment(SHORT), 1,
                               BackendOptions(data_dir=None))
        try:
            cluster.start()
            directory = cluster.cluster.data_dir  # type: ignore[attr-defined]
            pids = [n.pid for n in cluster.cluster.state().nodes]  # type: ignore[attr-defined]
        finally:
            cluster.stop()

        assert not directory.exists()
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(
                f"/proc/{pid}/stat").read_text().split(")")[-1][:3]


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


INTERRUPTIBLE = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
"""A suite started in a script's background inherits SIGINT ignored, and so would the run:
give it the handler a terminal's Ctrl-C meets."""


class TestInterrupt:
    """Ctrl-C heals every fault and stops the cluster, leaving nothing running."""

    def test_sigint_mid_run_exits_130_and_leaves_no_process(self, tmp_path: Path) -> None:
        """SIGINT during a partition: exit 130, no node or proxy of the run survives."""
        import os
        import signal
        import subprocess
        import sys

        experiment = tmp_path / "long.yaml"
        experiment.write_text(SHORT.replace("duration: 14s", "duration: 60s"))
        work = tmp_path / "tmp"
        work.mkdir()
        env = {**os.environ, "TMPDIR": str(work), "CHAOSLAB_LOG_LEVEL": "warning"}
        process = subprocess.Popen(
            [sys.executable, "-c", INTERRUPTIBLE + "from experiments.cli import main; main()",
             "run",
             str(experiment), "--backend", "local", "--seed", "1", "--out",
             str(tmp_path / "runs")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:  # progress lines: "workload  3.1/60 s ..."
            seen.append(line)
            words = line.split()
            if len(words) > 1 and words[0] == "workload" and float(words[1].split("/")[0]) >= 3:
                break  # inside the partition (it starts 2 s into the workload)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        output = "".join(seen) + rest
        survivors = [entry.name for entry in Path("/proc").iterdir()
                     if entry.name.isdigit() and str(work) in _cmdline(entry.name)]

        assert 130 == process.returncode, output[-2000:]
        assert "interrupted" in output
        assert [] == survivors
