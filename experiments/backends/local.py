"""The ``local`` backend: node processes on 127.0.0.1, every peer link behind a Toxiproxy
server (the embedded one by default, or a real one).

Rules: the cluster is a ``experiments.cluster.LocalCluster`` in a directory of its own
(its record, data and logs), made for the run and removed after it unless asked to keep
it. Status is read from each node's own address (never through a proxy, so a cut link
never hides a node's state); clients use the client proxies. In-node faults (clock, disk)
go through each node's authenticated failpoint call, with the token of the cluster's
secret; a node whose failing disk stopped it is started again when the fault ends. Every
fault is undone, and ``stop`` heals the proxies, resets the failpoints, thaws paused
nodes and stops every process, whatever happened.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from experiments.backends.base import (
    ClientSettings,
    DirectedLink,
    NodeId,
    NodeState,
    Probes,
    Program,
    ResolvedFault,
)
from experiments.backends.loops import run_on_asyncio
from experiments.backends.real import (
    RealClient,
    StatusProbe,
    heal_proxies,
    probe_links,
    start_process_fault,
    start_proxy_fault,
    undo_fault,
)
from experiments.cluster.local import LocalCluster, UpOptions
from experiments.cluster.state import ClusterError
from experiments.errors import BackendFailure
from experiments.schedule import NemesisKind
from nodes.client import Client, FailpointRequest, FailpointSecretError, failpoint_metadata
from nodes.timing import DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS, DEFAULT_TICK_MS
from proxy.control import ToxiproxyControl
from proxy.topology import Topology

_log = structlog.get_logger()


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalOptions:
    """How the local backend starts its cluster."""

    nodes: int = 5
    tick_ms: int = DEFAULT_TICK_MS
    election_tick: int = DEFAULT_ELECTION_TICKS
    heartbeat_tick: int = DEFAULT_HEARTBEAT_TICKS
    forward_writes: bool = True
    """Nodes forward writes they cannot serve to the leader (home-bound clients need it)."""
    data_dir: Path | None = None
    """Where the cluster lives (default: a temporary directory removed after the run)."""
    keep: bool = False
    """Keep the data directory after the run."""
    consistency: str = "cp"
    """The nodes' consistency mode."""
    failpoints: bool = False
    """Start the nodes with ``--failpoints`` (the experiment has in-node faults)."""
    extra: dict[str, Any] | None = None
    """More ``UpOptions`` fields (a real Toxiproxy, a proxy port base, ...)."""


class LocalBackend:
    """A local cluster of node processes (see the module docstring)."""

    backend = "local"
    poll_interval_s = 0.1

    def __init__(self, options: LocalOptions) -> None:
        self.options = options
        self.node_ids: tuple[NodeId, ...] = tuple(range(1, options.nodes + 1))
        self._made_dir = options.data_dir is None
        directory = options.data_dir or Path(tempfile.mkdtemp(prefix="chaoslab-local-"))
        self.cluster = LocalCluster(directory)
        self._probe: StatusProbe | None = None
        self._control: ToxiproxyControl | None = None
        self._topology: Topology | None = None
        self._addresses: dict[NodeId, str] = {}
        self._paused: set[NodeId] = set()
        self._killed: set[NodeId] = set()
        self._listen: dict[NodeId, str] = {}
        self._faulted: set[NodeId] = set()
        """Nodes with an in-node fault in force (reset by ``heal``)."""

    # ---- lifecycle --------------------------------------------------------------

    def refusals(self, kinds: set[NemesisKind]) -> list[str]:
        """Simulator-only faults cannot happen to real processes."""
        return [
            f"{kind.value}: only the simulator can aim a fault at a protocol moment "
            "(use --backend sim)"
            for kind in sorted(kinds, key=lambda k: k.value)
            if kind.simulator_only
        ]

    def start(self) -> None:
        """Start the processes and the proxy, and wait for a leader."""
        options = self.options
        up = UpOptions(
            nodes=options.nodes,
            with_proxy=True,
            tick_ms=options.tick_ms,
            election_tick=options.election_tick,
            heartbeat_tick=options.heartbeat_tick,
            forward_writes=options.forward_writes,
            consistency=options.consistency,
            failpoints=options.failpoints,
            **(options.extra or {}),
        )
        try:
            state = self.cluster.up(up, wait_s=30)
        except ClusterError as exc:
            self.stop()  # whatever did start must not outlive the failure
            msg = f"the local cluster did not start: {exc}"
            raise BackendFailure(msg) from exc
        self._topology = self.cluster.topology()
        url = state.proxy_url
        if self._topology is None or url is None:
            msg = f"the local cluster in {self.cluster.data_dir} runs without a proxy"
            raise BackendFailure(msg)
        self._control = ToxiproxyControl(url, timeout_s=5.0)
        self._addresses = {n.id: n.client_address for n in state.nodes}
        self._listen = {n.id: n.listen for n in state.nodes}
        self._probe = StatusProbe(self._listen)

    def stop(self) -> None:
        """Heal, thaw, stop every process; remove the directory unless kept."""
        with contextlib.suppress(Exception):
            self.heal()
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self.cluster.exists():
            with contextlib.suppress(ClusterError):
                self.cluster.down()
        if self._made_dir and not self.options.keep:
            shutil.rmtree(self.cluster.data_dir, ignore_errors=True)

    def execute(self, program: Program, *, limit_s: float) -> bool:
        """Run ``program`` on an asyncio loop (wall-clock time)."""
        return run_on_asyncio(program, limit_s=limit_s)

    def save_logs(self, directory: Path) -> None:
        """Copy every node's log and the proxy's into ``directory``."""
        if not self.cluster.exists():
            return
        directory.mkdir(parents=True, exist_ok=True)
        state = self.cluster.state()
        for entry in state.nodes:
            with contextlib.suppress(OSError):
                shutil.copyfile(entry.log, directory / f"n{entry.id}.log")
        if state.proxy is not None:
            with contextlib.suppress(OSError):
                shutil.copyfile(state.proxy.log, directory / "proxy.log")

    # ---- status and process faults ---------------------------------------------------

    def status(self) -> list[NodeState]:
        """Every node's state, read from the node itself."""
        if self._probe is None:
            msg = "the local cluster is not started"
            raise BackendFailure(msg)
        return self._probe.read()

    def kill(self, node: NodeId) -> None:
        """SIGKILL the node's process."""
        self._resume_if_paused(node)
        self.cluster.kill(node)
        self._killed.add(node)

    def restart(self, node: NodeId) -> None:
        """Start the node's process again on its data."""
        try:
            self.cluster.restart(node)
        except ClusterError as exc:
            raise BackendFailure(f"could not restart n{node}: {exc}") from exc
        self._killed.discard(node)

    def pause(self, node: NodeId) -> None:
        """SIGSTOP the node's process."""
        if not self.cluster.pause(node):
            msg = f"n{node} is not running (cannot pause it)"
            raise BackendFailure(msg)
        self._paused.add(node)

    def resume(self, node: NodeId) -> None:
        """SIGCONT the node's process."""
        self.cluster.resume(node)
        self._paused.discard(node)

    def _resume_if_paused(self, node: NodeId) -> None:
        if node in self._paused:
            with contextlib.suppress(BackendFailure):
                self.resume(node)

    # ---- faults ----------------------------------------------------------------------

    def apply(self, fault: ResolvedFault) -> Any:
        """Inject ``fault``; returns what ``undo`` needs."""
        kind = fault.kind
        process = start_process_fault(fault, kill=self.kill, pause=self.pause)
        if process is not None:
            return process
        if kind.in_node:
            return self._in_node(fault)
        if self._control is None or self._topology is None:
            msg = "the local cluster is not started"
            raise BackendFailure(msg)
        return start_proxy_fault(self._control, self._topology, fault)

    def _failpoint(self, node: NodeId, request: FailpointRequest) -> None:
        """One authenticated failpoint call to ``node``.

        Raises:
            BackendFailure: the node refused or did not answer.
        """
        state = self.cluster.state()
        try:
            metadata = failpoint_metadata(state.peer_secret_file, state.cluster_id)
        except FailpointSecretError as exc:
            raise BackendFailure(f"failpoint on n{node}: {exc}") from exc
        address = self._listen[node]
        with Client([address], attempt_timeout_s=2.0) as client:
            outcome = client.failpoint(address, request, metadata)
        if outcome.value is None:
            msg = f"n{node} refused the failpoint call: {outcome.error}"
            raise BackendFailure(msg)

    def _in_node(self, fault: ResolvedFault) -> tuple[str, tuple[NodeId, ...], bool]:
        """A clock or disk failpoint on every target; returns what ``undo`` needs."""
        spec = fault.spec
        kind = fault.kind
        if kind is NemesisKind.CLOCK_SKEW:
            request = FailpointRequest(clock_rate=spec.clock_rate)
        elif kind is NemesisKind.CLOCK_JUMP:
            request = FailpointRequest(clock_jump_ms=round(spec.clock_jump_ms))
        elif kind is NemesisKind.DISK_SLOW:
            request = FailpointRequest(disk="slow", disk_delay_ms=round(spec.disk_delay_ms))
        else:
            request = FailpointRequest(disk="full" if kind is NemesisKind.DISK_FULL else "error")
        done: list[NodeId] = []
        try:
            for node in fault.targets:
                self._failpoint(node, request)
                done.append(node)
                self._faulted.add(node)
        except BackendFailure:
            self._undo_in_node(kind.category, tuple(done), restart=kind.stops_node)
            raise
        return (kind.category, fault.targets, kind.stops_node)

    def _undo_in_node(self, category: str, nodes: tuple[NodeId, ...], *, restart: bool) -> None:
        """Back on true time / a healthy disk; a node its disk stopped is started again."""
        request = (FailpointRequest(clock_reset=True) if category == "clock"
                   else FailpointRequest(disk="none"))
        running = set(self.cluster.running())
        for node in nodes:
            if node in running:
                with contextlib.suppress(BackendFailure):
                    self._failpoint(node, request)
            elif restart and node not in self._killed:
                self.restart(node)
            self._faulted.discard(node)

    def undo(self, handle: Any) -> None:
        """Undo one fault."""
        undo_fault(handle, in_node=self._undo_in_node, restart=self.restart,
                   resume=self.resume)

    def heal(self) -> None:
        """Restore every link, thaw paused nodes, restart killed ones."""
        if self._control is not None and self._topology is not None:
            heal_proxies(self._control, self._topology)
        for node in sorted(self._paused):
            self._resume_if_paused(node)
        for node in sorted(self._killed):
            with contextlib.suppress(BackendFailure):
                self.restart(node)
        if self._faulted and self.cluster.exists():
            faulted = tuple(sorted(self._faulted))
            with contextlib.suppress(BackendFailure, ClusterError):
                self._undo_in_node("clock", faulted, restart=False)
            with contextlib.suppress(BackendFailure, ClusterError):
                self._undo_in_node("disk", faulted, restart=True)

    def probe(self, links: list[DirectedLink]) -> Probes:
        """Probe links through their proxies (see ``Cluster.probe``)."""
        if self._topology is None:
            return {}
        return probe_links(self._topology, links)

    # ---- clients -----------------------------------------------------------------------

    @property
    def client_addresses(self) -> dict[NodeId, str]:
        """Node id → where clients reach it (its client proxy)."""
        return dict(self._addresses)

    def client(self, settings: ClientSettings) -> RealClient:
        """A recorded client through the client proxies."""
        return RealClient(self._addresses, settings)
