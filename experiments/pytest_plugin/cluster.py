"""The ``chaos_cluster`` fixture's object: a running cluster (local processes or the compose
cluster) a test can inspect, hit with faults and talk to; and the pool that keeps clusters
alive for the chosen scope.

Rules: built on the backend seam (``experiments.backends``): ``open_backend`` makes the
cluster, its ``Cluster`` methods do everything. Faults are described as in experiment files
(``inject("partition-leader")``, ``inject("latency", ms=100)``) and validated the same way.
After every test, every fault it injected is undone, then ``heal()`` restores every link,
thaws paused nodes and restarts killed ones, and clients it opened are closed; a cluster is
stopped when its scope ends, or kept running for inspection when its test failed and
``--chaoslab-keep`` is on. The simulator is refused: its time advances only inside an
experiment (use the ``chaos`` fixture there).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from experiments.errors import BackendFailure, BadInput

if TYPE_CHECKING:
    from experiments.backends.base import Cluster, NodeState, ResolvedFault
    from nodes.client import Client

_log = structlog.get_logger()
LEADER_WAIT_S = 30.0


class InjectedFault:
    """A fault in force on a ``ChaosCluster``; ``undo()`` (or leaving its ``with`` block)
    ends it."""

    def __init__(self, cluster: ChaosCluster, fault: ResolvedFault, handle: Any) -> None:
        self._cluster = cluster
        self.fault = fault
        self._handle = handle
        self.active = True

    @property
    def description(self) -> str:
        """What was cut or hit, in words (``isolate the leader n2 from n1,n3``)."""
        return self.fault.description

    @property
    def targets(self) -> tuple[int, ...]:
        """The nodes hit (kill / pause: the victim; partitions: the nodes cut off)."""
        return self.fault.targets

    @property
    def sides(self) -> tuple[tuple[int, ...], ...]:
        """During a partition, the groups that still hear each other (the majority first)."""
        return self.fault.sides

    def undo(self) -> None:
        """End the fault (a second call does nothing)."""
        if not self.active:
            return
        self.active = False
        self._cluster.backend.undo(self._handle)

    def __enter__(self) -> InjectedFault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.undo()

    def __repr__(self) -> str:
        state = "in force" if self.active else "undone"
        return f"<InjectedFault {self.description} ({state})>"


@dataclass(slots=True, kw_only=True)
class ChaosCluster:
    """A running cluster for a test (see the module docstring)."""

    backend: Cluster
    """The backend seam's cluster (``experiments.backends.base.Cluster``)."""
    name: str
    """``local`` or ``docker``."""
    seed: int = 1
    """Seeds who random faults hit."""
    _faults: list[InjectedFault] = field(default_factory=list)
    _clients: list[Client] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random)
    _counter: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.seed}:chaos-cluster")

    @property
    def nodes(self) -> tuple[int, ...]:
        """Node ids, 1..N."""
        return tuple(self.backend.node_ids)

    @property
    def addresses(self) -> dict[int, str]:
        """Node id -> where clients reach it (``HOST:PORT``, through its client proxy)."""
        found = getattr(self.backend, "client_addresses", None)
        if isinstance(found, dict):
            return dict(found)
        docker = getattr(self.backend, "cluster", None)
        if docker is not None and hasattr(docker, "client_addresses"):
            return dict(docker.client_addresses())
        return {}

    @property
    def where(self) -> str:
        """Where the cluster lives, in words (its directory, or its compose project)."""
        local = getattr(self.backend, "cluster", None)
        directory = getattr(local, "data_dir", None)
        if directory is not None:
            return (f"local cluster in {directory} (`chaoslab cluster status --cluster-dir "
                    f"{directory}`; stop it with `chaoslab cluster down --cluster-dir "
                    f"{directory}`)")
        project = getattr(self.backend, "project", None)
        return (f"compose project {project} (`docker compose -p {project} ps`; remove it with "
                f"`docker compose -p {project} down -v`)")

    # ---- state ---------------------------------------------------------------------

    def status(self) -> list[NodeState]:
        """Every node's role, term, leader and indexes (``unreachable`` when it did not
        answer)."""
        return self.backend.status()

    def leader(self) -> int | None:
        """The leader a majority agrees on right now (None: no such leader)."""
        from experiments.backends.base import agreed_leader  # noqa: PLC0415 - lazy

        agreed = agreed_leader(self.status(), len(self.nodes))
        return None if agreed is None else agreed.id

    def wait_for_leader(self, timeout_s: float = LEADER_WAIT_S, *,
                        exclude: tuple[int, ...] = ()) -> int:
        """Wait (bounded) until a majority agrees on a leader not in ``exclude``.

        Raises:
            TimeoutError: none within ``timeout_s`` (the message has the last status).
        """
        deadline = time.monotonic() + timeout_s
        states: list[NodeState] = []
        while True:
            states = self.status()
            from experiments.backends.base import agreed_leader  # noqa: PLC0415 - lazy

            agreed = agreed_leader(states, len(self.nodes))
            if agreed is not None and agreed.id not in exclude:
                return agreed.id
            if time.monotonic() >= deadline:
                seen = ", ".join(f"n{s.id} {s.role} term {s.term}" for s in states)
                msg = f"no agreed leader within {timeout_s:g} s; last status: {seen}"
                raise TimeoutError(msg)
            time.sleep(0.1)

    # ---- faults ---------------------------------------------------------------------

    def inject(self, fault: str, **parameters: Any) -> InjectedFault:
        """Start a fault now, as an experiment file writes it: ``inject("partition-leader")``,
        ``inject("partition", groups=[[1], [2, 3]])``, ``inject("kill", target="leader")``,
        ``inject("latency", ms=100, jitter=20)``, ``inject("loss", p=0.3)``. It lasts until
        ``undo()`` (or the end of its ``with`` block, or of the test).

        Raises:
            BadInput: an unknown fault, a bad parameter, or one this backend cannot do.
            BackendFailure: the backend could not apply it (nothing stays applied).
        """
        from pydantic import ValidationError  # noqa: PLC0415 - lazy

        from experiments.pytest_plugin.sources import problems_of  # noqa: PLC0415 - lazy
        from experiments.runner.faults import resolve  # noqa: PLC0415 - lazy
        from experiments.runner.plan import fault_of  # noqa: PLC0415 - lazy
        from experiments.spec import FaultStep  # noqa: PLC0415 - lazy

        fields = {"at": 0, "fault": fault, "for": 1, **{k.rstrip("_"): v
                                                         for k, v in parameters.items()}}
        try:
            step = FaultStep.model_validate(fields)
        except ValidationError as exc:
            raise BadInput("; ".join(problems_of(exc, f"inject({fault!r})"))) from None
        outside = sorted({n for group in step.groups or () for n in group
                          if n not in self.nodes})
        if step.target and step.target.startswith("n") and int(step.target[1:]) not in \
                self.nodes:
            outside.append(int(step.target[1:]))
        if outside:
            msg = f"inject({fault!r}): no node(s) {outside} in a {len(self.nodes)}-node cluster"
            raise BadInput(msg)
        refused = self.backend.refusals({step.fault})
        if refused:
            raise BadInput(f"inject({fault!r}) on {self.name}: " + "; ".join(refused))
        spec = fault_of(step)
        self._counter += 1
        resolved = resolve(self._counter, spec, self.status(), self.nodes, self._rng)
        handle = self.backend.apply(resolved)
        injected = InjectedFault(self, resolved, handle)
        self._faults.append(injected)
        _log.info("chaos_cluster.inject", fault=resolved.description)
        return injected

    def partition(self, *groups: list[int] | tuple[int, ...], mode: str | None = None
                  ) -> InjectedFault:
        """Cut the links between ``groups`` (nodes in none form one more group)."""
        return self.inject("partition", groups=[list(g) for g in groups], mode=mode)

    def isolate(self, node: int) -> InjectedFault:
        """Cut ``node`` off from every other node."""
        return self.partition([node])

    def kill(self, node: int) -> None:
        """kill -9 the node (``restart`` or the end of the test brings it back)."""
        self.backend.kill(node)

    def restart(self, node: int) -> None:
        """Start a killed node again on its data."""
        self.backend.restart(node)

    def pause(self, node: int) -> None:
        """Freeze the node (SIGSTOP / cgroup freezer)."""
        self.backend.pause(node)

    def resume(self, node: int) -> None:
        """Thaw a paused node."""
        self.backend.resume(node)

    def heal(self) -> None:
        """Undo every fault: injected ones first, then every link restored, paused nodes
        thawed and killed ones restarted."""
        faults, self._faults = self._faults, []
        for injected in reversed(faults):
            try:
                injected.undo()
            except (BackendFailure, OSError) as exc:
                _log.error("chaos_cluster.undo_failed", fault=injected.description,
                           error=str(exc))
        self.backend.heal()

    # ---- clients --------------------------------------------------------------------

    def client(self, **options: Any) -> Client:
        """A blocking client of this cluster (``nodes.client.Client``), closed after the
        test. Options as ``Client`` (``timeout_s``, ``attempt_timeout_s``, ``routing``, ...)."""
        from nodes.client import Client  # noqa: PLC0415 - lazy

        addresses = [address for _, address in sorted(self.addresses.items())]
        if not addresses:
            msg = f"the {self.name} cluster has no client addresses (is it started?)"
            raise BackendFailure(msg)
        docker = getattr(self.backend, "cluster", None)
        if self.name == "docker" and docker is not None:
            from experiments.docker import HostAsyncClient  # noqa: PLC0415 - lazy

            # Nodes name the leader by its in-network address: dial it through the host.
            mapping = docker.address_map()
            made = Client(addresses, client_factory=lambda addrs, **more: HostAsyncClient(
                addrs, address_map=mapping, **more), **options)
        else:
            made = Client(addresses, **options)
        self._clients.append(made)
        return made

    def after_test(self) -> None:
        """Close this test's clients and heal every fault (always, whatever happened)."""
        clients, self._clients = self._clients, []
        for made in clients:
            with contextlib.suppress(Exception):
                made.close()
        self.heal()


@dataclass(slots=True, kw_only=True)
class ClusterPool:
    """Clusters alive for one fixture scope, one per (backend, size)."""

    seed: int = 1
    docker_project: str | None = None
    clusters: dict[tuple[str, int], ChaosCluster] = field(default_factory=dict)

    def get(self, backend: str, nodes: int) -> ChaosCluster:
        """The running cluster of this backend and size (started on first use).

        Raises:
            BadInput: the backend cannot give a cluster (sim).
            BackendFailure: it did not start (the message says why).
        """
        if backend == "sim":
            msg = ("chaos_cluster needs a real cluster (local or docker): the simulator's time "
                   "advances only inside an experiment; use the chaos fixture's run() there")
            raise BadInput(msg)
        key = (backend, nodes)
        found = self.clusters.get(key)
        if found is not None:
            return found
        from experiments.backends import BackendOptions, open_backend  # noqa: PLC0415 - lazy
        from experiments.spec import Experiment  # noqa: PLC0415 - lazy

        experiment = Experiment.model_validate(
            {"name": "chaos-cluster", "duration": 1, "cluster": {"nodes": nodes}})
        options = BackendOptions(docker_project=self.docker_project if backend == "docker"
                                 else None)
        made = open_backend(backend, experiment, self.seed, options)
        try:
            made.start()
        except BaseException:
            with contextlib.suppress(Exception):
                made.stop()
            raise
        cluster = ChaosCluster(backend=made, name=backend, seed=self.seed)
        self.clusters[key] = cluster
        return cluster

    def keep(self, cluster: ChaosCluster) -> None:
        """Leave ``cluster`` running after its scope (its test failed): forget it."""
        for key, known in list(self.clusters.items()):
            if known is cluster:
                del self.clusters[key]

    def close(self) -> None:
        """Stop every cluster still in the pool (each heals first)."""
        clusters, self.clusters = self.clusters, {}
        for cluster in clusters.values():
            try:
                cluster.backend.stop()
            except Exception as exc:  # one cluster's failure must not leak the others
                _log.error("chaos_cluster.stop_failed", backend=cluster.name, error=str(exc))

    def __iter__(self) -> Iterator[ChaosCluster]:
        return iter(list(self.clusters.values()))
