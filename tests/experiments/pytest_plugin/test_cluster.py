"""chaos_cluster: faults described as in experiment files, always healed, scoped, kept on
request; against a stand-in backend (the real local cluster is in tests/resilience)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from experiments.backends.base import NodeState, ResolvedFault
from experiments.errors import BadInput
from experiments.pytest_plugin.cluster import ChaosCluster
from experiments.pytest_plugin.settings import OPTIONS

pytest_plugins = ["pytester"]


@dataclass
class _Dir:
    data_dir: Path


@dataclass
class FakeBackend:
    """Records what the plugin asks of a cluster."""

    nodes: int = 5
    backend: str = "local"
    calls: list[str] = field(default_factory=list)
    applied: list[ResolvedFault] = field(default_factory=list)
    cluster: _Dir = field(default_factory=lambda: _Dir(Path("/tmp/fake-cluster")))

    @property
    def node_ids(self) -> tuple[int, ...]:
        return tuple(range(1, self.nodes + 1))

    @property
    def client_addresses(self) -> dict[int, str]:
        return {n: f"127.0.0.1:{7100 + n}" for n in self.node_ids}

    def refusals(self, kinds: set[Any]) -> list[str]:
        return [f"{k.value}: simulator only" for k in kinds if k.simulator_only]

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")

    def status(self) -> list[NodeState]:
        return [NodeState(id=n, role="leader" if n == 1 else "follower", term=2, leader=1)
                for n in self.node_ids]

    def kill(self, node: int) -> None:
        self.calls.append(f"kill n{node}")

    def restart(self, node: int) -> None:
        self.calls.append(f"restart n{node}")

    def pause(self, node: int) -> None:
        self.calls.append(f"pause n{node}")

    def resume(self, node: int) -> None:
        self.calls.append(f"resume n{node}")

    def apply(self, fault: ResolvedFault) -> Any:
        self.applied.append(fault)
        self.calls.append(f"apply {fault.description}")
        return fault.id

    def undo(self, handle: Any) -> None:
        self.calls.append(f"undo {handle}")

    def heal(self) -> None:
        self.calls.append("heal")


class TestChaosCluster:
    """Faults in experiment-file terms, undone after the test."""

    def test_partition_the_leader(self) -> None:
        """partition-leader cuts the leader the cluster reports off from the rest."""
        backend = FakeBackend()
        cluster = ChaosCluster(backend=backend, name="local")  # type: ignore[arg-type]

        fault = cluster.inject("partition-leader")

        assert ((1,), ((2, 3, 4, 5), (1,)), "isolate the leader n1 from n2,n3,n4,n5") == (
            fault.targets, fault.sides, fault.description)

    def test_explicit_groups_and_the_with_block(self) -> None:
        """A partition given as groups is undone when its block ends."""
        backend = FakeBackend()
        cluster = ChaosCluster(backend=backend, name="local")  # type: ignore[arg-type]

        with cluster.partition([1, 2], [3, 4, 5]) as fault:
            assert fault.active

        assert (False, ["apply partition n1,n2 | n3,n4,n5", "undo 1"]) == (
            fault.active, backend.calls)

    @pytest.mark.parametrize(
        ("fault", "parameters", "message"),
        [
            ("partition", {"groups": [[1], [7]]}, "no node(s) [7] in a 5-node cluster"),
            ("latency", {"p": 0.5}, "fault latency takes no p"),
            ("leader-churn", {}, "leader-churn: simulator only"),
            ("earthquake", {}, "fault: Input should be"),
        ],
    )
    def test_bad_faults_are_refused(self, fault: str, parameters: dict[str, Any],
                                    message: str) -> None:
        """Unknown faults, bad parameters, nodes that do not exist, simulator-only faults."""
        cluster = ChaosCluster(backend=FakeBackend(), name="local")  # type: ignore[arg-type]

        with pytest.raises(BadInput) as raised:
            cluster.inject(fault, **parameters)

        assert message in str(raised.value)

    def test_after_the_test_every_fault_is_undone_then_healed(self) -> None:
        """Injected faults are undone newest first, then the backend heals everything."""
        backend = FakeBackend()
        cluster = ChaosCluster(backend=backend, name="local")  # type: ignore[arg-type]
        cluster.inject("latency", ms=100)
        cluster.inject("kill", target="n3")
        backend.calls.clear()

        cluster.after_test()

        assert ["undo 2", "undo 1", "heal"] == backend.calls


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> list[FakeBackend]:
    """Every cluster the plugin opens is a FakeBackend (listed here)."""
    made: list[FakeBackend] = []

    def open_backend(backend: str, experiment: Any, seed: int, options: Any = None) -> Any:
        made.append(FakeBackend(nodes=experiment.cluster.nodes, backend=backend))
        return made[-1]

    monkeypatch.setattr("experiments.backends.open_backend", open_backend)
    for option in OPTIONS:
        monkeypatch.delenv(option.env, raising=False)
    return made


TWO_TESTS = """
    import pytest

    def test_one(chaos_cluster):
        chaos_cluster.inject("partition-leader")

    @pytest.mark.chaos(nodes=5)
    def test_two(chaos_cluster):
        chaos_cluster.kill(2)
        assert False, "fails on purpose"
"""


class TestFixture:
    """The fixture's life: scope, teardown that always heals, keep, the simulator."""

    def test_module_scope_shares_one_cluster_and_heals_between_tests(
        self, pytester: pytest.Pytester, fake: list[FakeBackend]
    ) -> None:
        """One cluster for the module; healed after each test, failing ones included;
        stopped at the end."""
        pytester.makepyfile(TWO_TESTS)

        pytester.runpytest("--chaoslab-backend", "local").assert_outcomes(passed=1, failed=1)

        (cluster,) = fake
        assert ["start", "apply isolate the leader n1 from n2,n3,n4,n5", "undo 1", "heal",
                "kill n2", "heal", "stop"] == cluster.calls

    def test_function_scope(self, pytester: pytest.Pytester, fake: list[FakeBackend]) -> None:
        """--chaoslab-cluster-scope function: a cluster per test."""
        pytester.makepyfile(TWO_TESTS)

        pytester.runpytest("--chaoslab-backend", "local", "--chaoslab-cluster-scope",
                           "function")

        assert [["start", "stop"], ["start", "stop"]] == [
            [c for c in f.calls if c in ("start", "stop")] for f in fake]

    def test_keep_leaves_a_failed_tests_cluster_running(
        self, pytester: pytest.Pytester, fake: list[FakeBackend]
    ) -> None:
        """With --chaoslab-keep the failed test's cluster is healed but not stopped, and the
        summary says where it is."""
        pytester.makepyfile(TWO_TESTS)

        result = pytester.runpytest("--chaoslab-backend", "local", "--chaoslab-keep")

        assert "stop" not in fake[0].calls
        result.stdout.fnmatch_lines(["kept for inspection: test_keep_*::test_two: local "
                                     "cluster in /tmp/fake-cluster *"])

    def test_the_simulator_skips_with_a_reason(self, pytester: pytest.Pytester,
                                               fake: list[FakeBackend]) -> None:
        """--chaoslab-backend sim: chaos_cluster tests skip, saying why."""
        pytester.makepyfile(TWO_TESTS)

        result = pytester.runpytest("--chaoslab-backend", "sim", "-rs")

        result.assert_outcomes(skipped=2)
        result.stdout.fnmatch_lines(["*--chaoslab-backend sim: chaos_cluster needs a real "
                                     "cluster (local or docker)*"])
        assert [] == fake

    def test_a_test_that_asks_for_the_simulator_fails(self, pytester: pytest.Pytester,
                                                      fake: list[FakeBackend]) -> None:
        """A marker that pins the simulator on a chaos_cluster test is a mistake."""
        pytester.makepyfile("""
            import pytest

            @pytest.mark.chaos(backend="sim")
            def test_x(chaos_cluster):
                pass
        """)

        result = pytester.runpytest()

        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*@pytest.mark.chaos(backend='sim'): chaos_cluster needs "
                                     "a real cluster*"])
