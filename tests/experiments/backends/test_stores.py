"""The generic store backend (experiments/backends/stores.py) on real processes: chaoslab's
own node through the adapter seam, and etcd (skipped, saying why, where it is missing)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

import pytest

from experiments.backends import BackendOptions, open_backend, refusals
from experiments.backends.stores import StoreLocalBackend, unshare_works
from experiments.errors import BackendFailure
from experiments.runner.api import run_experiment
from experiments.spec import parse_experiment
from experiments.stores.base import MemberCommand, MemberPlan, StoreTiming

NAMESPACES = unshare_works()
needs_namespaces = pytest.mark.skipif(
    NAMESPACES is not None, reason=f"members need mount namespaces of their own: {NAMESPACES}"
)
needs_etcd = pytest.mark.skipif(
    shutil.which("etcd") is None,
    reason="etcd is not installed (apt-get install -y etcd-server; .ci/run does it as root)",
)

CUT_LEADER = """\
name: store-short
cluster: {{nodes: 3, store: "{store}", consistency: {mode}}}
workload: {{clients: 6, keys: 2, rate: 60}}
duration: 12s
nemesis:
  - {{at: 3s, fault: partition-leader, for: 4s}}
expect:
  linearizable: true
  lost-writes: 0
  availability: {{minority: "<= 0.05"}}
  recovery: "<= 5s"
"""


def _run(tmp_path: Path, store: str, mode: str = "cp", seed: int = 3) -> dict[str, object]:
    experiment = parse_experiment(CUT_LEADER.format(store=store, mode=mode))
    outcome = run_experiment(experiment, backend="local", seed=seed, runs_dir=tmp_path)
    checks = {c["name"]: c for c in outcome.results["checks"]}
    assert outcome.dir is not None
    logs = sorted(p.name for p in (outcome.dir / "logs").iterdir())
    return {
        "verdict": outcome.verdict,
        "checks": checks,
        "logs": logs,
        "command": outcome.command,
        "results": outcome.results,
    }


@needs_namespaces
class TestThroughTheSeam:
    def test_chaoslab_nodes_as_a_process_store(self, tmp_path: Path) -> None:
        """chaoslab's node, named by its adapter's import path, runs through the generic
        backend: the cut leader's clients get nothing, the run passes, the cut was seen."""
        run = _run(tmp_path, "experiments.stores.chaoslab:ChaoslabStore")

        assert "pass" == run["verdict"], run["checks"]
        assert ["n1.log", "n2.log", "n3.log", "proxy.log"] == run["logs"]

    def test_stop_leaves_no_process_and_no_directory(self, tmp_path: Path) -> None:
        """After stop, the members and the proxy are gone, and so is the cluster directory."""
        experiment = parse_experiment(
            CUT_LEADER.format(store="experiments.stores.chaoslab:ChaoslabStore", mode="cp")
        )
        cluster = open_backend("local", experiment, 1, BackendOptions())
        assert isinstance(cluster, StoreLocalBackend)
        cluster.start()
        pids = cluster.pids()
        cluster.stop()

        alive = [
            pid
            for pid in pids
            if Path(f"/proc/{pid}").exists()
            and "Z" not in Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2][:3]
        ]
        assert (4, [], False) == (len(pids), alive, cluster.directory.exists())


@needs_namespaces
@needs_etcd
class TestEtcd:
    def test_a_cut_leader_on_etcd(self, tmp_path: Path) -> None:
        """etcd behind the mesh: linearizable, nothing lost, the cut member's clients get
        no answers, and the reproduce command names the store."""
        run = _run(tmp_path, "etcd")

        assert "pass" == run["verdict"], run["checks"]
        assert run["checks"]["faults-observed"]["valid"] is True
        assert str(run["command"]).endswith("--store etcd")


class TestRefusals:
    @pytest.mark.parametrize(
        ("backend", "cluster", "fault", "fragment"),
        [
            ("docker", "{store: etcd}", "partition-leader", "run on the local backend"),
            (
                "local",
                "{store: etcd, consistency: lease}",
                "partition-leader",
                "the etcd store offers cp",
            ),
            ("local", "{store: etcd}", "clock-skew", "needs chaoslab's failpoints"),
            ("local", "{store: etcd}", "leader-churn", "only the simulator"),
        ],
    )
    def test_what_etcd_cannot_run_is_refused_before_anything_starts(
        self, backend: str, cluster: str, fault: str, fragment: str
    ) -> None:
        """Each refusal names the part of the file and why."""
        experiment = parse_experiment(
            f"name: x\ncluster: {cluster}\nduration: 10s\n"
            f"nemesis: [{{at: 2s, fault: {fault}, for: 2s}}]\n"
        )

        assert any(fragment in line for line in refusals(backend, experiment)), refusals(
            backend, experiment
        )


class SleepyStore:
    """An adapter whose members just sleep and whose status() forgot to return."""

    name = "sleepy"
    consistency_modes: ClassVar[dict[str, str]] = {"cp": "whatever"}

    def prepare(self) -> None:
        """Nothing to prepare."""

    def member(self, plan: MemberPlan) -> MemberCommand:
        """A process that runs long enough to be asked."""
        del plan
        return MemberCommand(argv=["sleep", "30"])

    def status(self, addresses: object, timeout_s: float) -> None:
        """Wrong: returns nothing."""
        del addresses, timeout_s

    def client(self, *args: object) -> None:
        """Never called."""

    def close(self) -> None:
        """Nothing to close."""


@needs_namespaces
def test_an_adapter_that_answers_wrongly_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    """A status() that does not return NodeStates stops the start with a message naming
    the adapter and what it returned; the members and the proxy are stopped."""
    cluster = StoreLocalBackend(
        SleepyStore(),  # type: ignore[arg-type]
        nodes=2,
        timing=StoreTiming(tick_ms=10, election_ticks=15, heartbeat_ticks=3),
        consistency="cp",
        data_dir=tmp_path / "c",
    )

    with pytest.raises(BackendFailure, match=r"sleepy adapter's status\(\) returned NoneType"):
        cluster.start()

    assert [] == cluster.pids()
