"""A local cluster of node processes on 127.0.0.1, optionally behind a Toxiproxy server.

Rules: every process is recorded in ``DIR/cluster.json`` (``state``) before anything
waits on it, so another terminal (or a crashed CLI) can manage it; so is every fault
and paused node, so any terminal can undo them. Every wait is bounded. Ports follow
``layout`` (documented there). Each cluster has its own id and peer secret (a 0600
file in its directory, passed to nodes by path, never printed); nodes serve clients
and peers on separate listeners. With a proxy, nodes send to their peers through the
``proxy.topology`` link proxies and clients use the client proxies.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from experiments.backends.base import NodeState, agreed_leader
from experiments.cluster import faults, processes, toxiproxy
from experiments.cluster.layout import PROXY_OFFSET, Layout, busy, find_base
from experiments.cluster.state import (
    ClusterError,
    ClusterState,
    FaultEntry,
    NodeEntry,
    load_state,
    save_state,
    state_path,
)
from nodes.client import Client, NodeView
from nodes.timing import DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS, DEFAULT_TICK_MS
from proxy import injection
from proxy.control import ProxyApiError, ToxiproxyControl
from proxy.faults import FaultPlan, LossPlan
from proxy.topology import Placement, Topology

_log = structlog.get_logger()

SECRET_FILE = "peer.secret"
START_CHECK_S = 10.0
"""How long ``restart`` waits for a started node to answer."""
PORTS_WAIT_S = 3.0
"""How long ``up`` waits for the cluster's ports to be free before refusing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UpOptions:
    """How ``cluster up`` starts a cluster."""

    nodes: int = 3
    base_port: int | None = None
    """Node i serves clients on ``base_port + i`` and peers on ``base_port + 100 + i``
    (default: the first free block from 7100)."""
    with_proxy: bool = False
    proxy_base_port: int | None = None
    """With a proxy: its API on this port and the proxies just above (default base + 200)."""
    toxiproxy_url: str | None = None
    """Use this running Toxiproxy (on this machine) instead of starting one."""
    toxiproxy_server: Path | str | None = None
    """Start this ``toxiproxy-server`` binary instead of the embedded server."""
    tick_ms: int = DEFAULT_TICK_MS
    election_tick: int = DEFAULT_ELECTION_TICKS
    heartbeat_tick: int = DEFAULT_HEARTBEAT_TICKS
    snapshot_every: int | None = None
    sync: str = "always"
    forward_writes: bool = False
    unsafe: tuple[str, ...] = ()
    """UNSAFE lab switches for every node (``chaoslab node --unsafe``): experiments only."""
    consistency: str = "cp"
    """Every node's consistency mode (``chaoslab node --consistency``)."""
    failpoints: bool = False
    """Nodes accept the authenticated admin failpoint call (clock and disk faults)."""
    log_format: str = "json"
    cluster_id: str | None = None
    """The cluster's id (default: ``local-`` and 8 random hex digits)."""

    @property
    def proxied(self) -> bool:
        """Whether the links cross a Toxiproxy server."""
        return self.with_proxy or bool(self.toxiproxy_url) or self.toxiproxy_server is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeReport:
    """One row of ``cluster status``."""

    id: int
    address: str
    view: NodeView | None
    error: str | None = None

    def state(self) -> NodeState:
        """This row as the backend seam's ``NodeState``."""
        return NodeState.from_view(self.id, self.view, self.address)

    def as_json(self) -> dict[str, object]:
        """The contract shape: id, address, role, term, leader, commit/applied index."""
        view = self.view
        return {
            "id": self.id,
            "address": self.address,
            "role": "unreachable" if view is None else _role(view.role),
            "term": None if view is None else view.term,
            "leader": None if view is None else view.leader,
            "commit_index": None if view is None else view.commit_index,
            "applied_index": None if view is None else view.applied_index,
        }


def _role(role: str) -> str:
    return "candidate" if role == "pre_candidate" else role


def _tail(log: Path) -> str:
    """The last line of a log, shortened (for error messages): ``event: reason`` for a
    JSON log line that has a reason, else the line itself."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    if not lines:
        return ""
    last = lines[-1]
    with contextlib.suppress(ValueError, AttributeError):
        record = json.loads(last)
        if record.get("reason"):
            return f"{record.get('event', 'error')}: {record['reason']}"[:400]
    return last[:300]


def _check_running(entry: NodeEntry) -> None:
    """Raise when node ``entry`` should run (it has a pid) but has exited.

    Raises:
        ClusterError: naming the node, how it ended and the last line of its log.
    """
    if entry.pid is None or processes.is_running(entry.pid, entry.argv):
        return
    tail = _tail(Path(entry.log))
    ended = processes.how_it_ended(entry.pid) or "how is unknown: not reaped here"
    msg = f"node {entry.id} (pid {entry.pid}) exited ({ended}); see {entry.log}" + (
        f": {tail}" if tail else " (empty)"
    )
    raise ClusterError(msg)


def write_secret(path: Path) -> None:
    """Create the cluster's peer secret (64 hex digits, mode 0600) unless it exists.

    Raises:
        ClusterError: it cannot be created.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        msg = f"cannot create the peer secret {path}: {exc.strerror or exc}"
        raise ClusterError(msg) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")


class LocalCluster:
    """Manage the cluster recorded in ``data_dir``.

    Args:
        data_dir: the cluster's directory (``cluster.json`` and ``nK/`` per node).
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()

    # ---- records -----------------------------------------------------------------

    def exists(self) -> bool:
        """Whether a cluster record exists here."""
        return state_path(self.data_dir).exists()

    def state(self) -> ClusterState:
        """The cluster record (raises ``NoCluster`` when there is none)."""
        return load_state(self.data_dir)

    def _save(self, state: ClusterState) -> None:
        save_state(self.data_dir, state)

    def running(self, state: ClusterState | None = None) -> list[int]:
        """Ids of the nodes whose process runs."""
        state = state or self.state()
        return [n.id for n in state.nodes if processes.is_running(n.pid, n.argv)]

    # ---- lifecycle ---------------------------------------------------------------

    def up(self, options: UpOptions, *, wait_s: float = 30.0) -> ClusterState:
        """Start the cluster (reusing the record and data when one exists), wait for a
        leader, then for every node to answer.

        Raises:
            ClusterError: it already runs, the record disagrees with ``options``, the
                directory is not writable, a port is taken, a process could not start or
                died, or no leader was elected within ``wait_s``.
        """
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"cannot create the cluster directory {self.data_dir}: {exc.strerror or exc}"
            raise ClusterError(msg) from None
        if self.exists():
            state = self.state()
            self._check_reusable(state, options)
        else:
            state = self._plan(options)
        self._save(state)
        layout = self._layout(state)
        ports = layout.ports(with_api=state.proxy is None or state.proxy.kind != "external")
        deadline = time.monotonic() + PORTS_WAIT_S
        while (taken := busy(ports)) and time.monotonic() < deadline:
            time.sleep(0.2)  # a cluster just stopped may hold its ports for a moment
        if taken:
            msg = (
                f"ports {taken} of this cluster are in use on 127.0.0.1; free them, or "
                "`chaoslab cluster down --purge` and pass other --base-port/--proxy-base-port"
            )
            raise ClusterError(msg)
        topology = self.topology()
        if state.proxy is not None and topology is not None:
            toxiproxy.start(state, topology, lambda: self._save(state))
        for entry in state.nodes:
            entry.pid = processes.spawn(entry.argv, Path(entry.log))
            entry.paused = False
            self._save(state)
        _log.info("cluster_started", nodes=len(state.nodes), data_dir=str(self.data_dir))
        deadline = time.monotonic() + wait_s
        if not self._leaderless(state):
            self.wait_for_leader(wait_s)
        self._wait_serving(state, max(1.0, deadline - time.monotonic()))
        return state

    @staticmethod
    def _leaderless(state: ClusterState) -> bool:
        """Whether the nodes run the ap mode (no Raft: no leader to wait for)."""
        return any(
            arg == "ap" and previous == "--consistency"
            for entry in state.nodes
            for previous, arg in zip(entry.argv, entry.argv[1:], strict=False)
        )

    def _check_reusable(self, state: ClusterState, options: UpOptions) -> None:
        alive = self.running(state)
        if alive:
            msg = (
                f"a cluster already runs in {self.data_dir} (nodes {alive}); "
                "use `chaoslab cluster down` first or another --cluster-dir"
            )
            raise ClusterError(msg)
        if len(state.nodes) != options.nodes:
            msg = (
                f"{state_path(self.data_dir)} records {len(state.nodes)} nodes, not "
                f"{options.nodes}; use `chaoslab cluster down --purge` or another --cluster-dir"
            )
            raise ClusterError(msg)
        if any(not n.peer_listen for n in state.nodes) or not state.peer_secret_file:
            msg = (
                f"{state_path(self.data_dir)} was written by an older chaoslab (no peer "
                "listeners); use `chaoslab cluster down --purge` or another --cluster-dir"
            )
            raise ClusterError(msg)

    def _plan(self, options: UpOptions) -> ClusterState:
        n = options.nodes
        proxy_base = options.proxy_base_port
        if options.base_port is not None:
            base = options.base_port
        else:
            base = find_base(n, with_proxy=options.proxied, proxy_base_port=proxy_base)
        if options.proxied and proxy_base is None:
            proxy_base = base + PROXY_OFFSET
        layout = Layout(nodes=n, base_port=base, proxy_base_port=proxy_base)
        secret = self.data_dir / SECRET_FILE
        write_secret(secret)
        cluster_id = options.cluster_id or f"local-{secrets.token_hex(4)}"
        topology = layout.topology()
        proxy = None
        if topology is not None:
            proxy = toxiproxy.plan_entry(
                self.data_dir,
                topology,
                server=options.toxiproxy_server,
                url=options.toxiproxy_url or None,
            )
        clients = layout.client_addresses()
        client_arg = ",".join(f"{i}={a}" for i, a in sorted(clients.items()))
        nodes = []
        for i in layout.node_ids:
            node_dir = self.data_dir / f"n{i}"
            peers = layout.peer_addresses(i)
            args = [
                "--log-format",
                options.log_format,
                "node",
                "--id",
                str(i),
                "--listen",
                layout.client_listen(i),
                "--peer-listen",
                layout.peer_listen(i),
                "--peers",
                ",".join(f"{j}={a}" for j, a in sorted(peers.items())),
                "--client-addresses",
                client_arg,
                "--cluster-id",
                cluster_id,
                "--peer-secret-file",
                str(secret),
                "--tick-ms",
                str(options.tick_ms),
                "--election-tick",
                str(options.election_tick),
                "--heartbeat-tick",
                str(options.heartbeat_tick),
                "--sync",
                options.sync,
            ]
            if options.snapshot_every is not None:
                args += ["--snapshot-every", str(options.snapshot_every)]
            if options.forward_writes:
                args.append("--forward-writes")
            if options.consistency != "cp":
                args += ["--consistency", options.consistency]
            if options.failpoints:
                args.append("--failpoints")
            for switch in options.unsafe:
                args += ["--unsafe", switch]
            args += ["--data-dir", str(node_dir / "data")]
            nodes.append(
                NodeEntry(
                    argv=processes.chaoslab_argv(*args),
                    log=str(node_dir / "node.log"),
                    id=i,
                    listen=layout.client_listen(i),
                    peer_listen=layout.peer_listen(i),
                    client_address=clients[i],
                    data_dir=str(node_dir / "data"),
                )
            )
        return ClusterState(
            cluster_id=cluster_id, peer_secret_file=str(secret), nodes=nodes, proxy=proxy
        )

    def _layout(self, state: ClusterState) -> Layout:
        first = min(state.nodes, key=lambda n: n.id)
        base = int(first.listen.rpartition(":")[2]) - first.id
        proxy_base = None if state.proxy is None else state.proxy.base_port
        return Layout(nodes=len(state.nodes), base_port=base, proxy_base_port=proxy_base)

    def wait_for_leader(self, wait_s: float = 30.0) -> NodeReport:
        """Wait (bounded) until a majority of nodes agree on one leader.

        Raises:
            ClusterError: a node that should run has exited, or no leader within ``wait_s``.
        """
        state = self.state()
        deadline = time.monotonic() + wait_s
        while True:
            self._check_alive(state)
            reports = self.status(state)
            agreed = agreed_leader([r.state() for r in reports], len(state.nodes))
            if agreed is not None:
                return next(r for r in reports if r.id == agreed.id)
            if time.monotonic() >= deadline:
                msg = f"no leader elected within {wait_s:.0f} s; see the logs in {self.data_dir}"
                raise ClusterError(msg)
            time.sleep(0.1)

    def _wait_serving(self, state: ClusterState, wait_s: float) -> None:
        """Wait (bounded) until every running, unpaused node answers its status call.

        Raises:
            ClusterError: a node exited, or one still does not answer after ``wait_s``.
        """
        deadline = time.monotonic() + wait_s
        while True:
            self._check_alive(state)
            silent = [
                r.id
                for r in self.status(state)
                if r.view is None and not state.node(r.id).paused and state.node(r.id).pid
            ]
            if not silent:
                return
            if time.monotonic() >= deadline:
                msg = f"nodes {silent} do not answer after {wait_s:.0f} s; see their logs"
                raise ClusterError(msg)
            time.sleep(0.1)

    def _check_alive(self, state: ClusterState) -> None:
        """Raise when a node that should run has exited (e.g. its port was taken)."""
        for entry in state.nodes:
            _check_running(entry)

    def status(
        self, state: ClusterState | None = None, *, timeout_s: float = 1.0
    ) -> list[NodeReport]:
        """Ask every node for its status (unreachable nodes are reported as such)."""
        state = state or self.state()
        reports = []
        with Client(state.client_addresses, attempt_timeout_s=timeout_s) as client:
            for entry in sorted(state.nodes, key=lambda n: n.id):
                # Admin calls go to the node itself, not through its client proxy.
                outcome = client.status(entry.listen)
                reports.append(
                    NodeReport(
                        id=entry.id,
                        address=entry.client_address,
                        view=outcome.value,
                        error=outcome.error,
                    )
                )
        return reports

    def kill(self, node_id: int) -> bool:
        """SIGKILL node ``node_id``; True when it was running."""
        state = self.state()
        entry = state.node(node_id)
        killed = processes.kill(entry.pid, entry.argv)
        entry.pid = None
        entry.paused = False
        self._save(state)
        _log.info("node_killed", node=node_id, was_running=killed)
        return killed

    def restart(self, node_id: int, *, wait_s: float = START_CHECK_S) -> None:
        """Stop node ``node_id`` if it runs (SIGTERM), start it again, and wait (bounded)
        until it answers.

        Raises:
            ClusterError: it exited on start (the message quotes its log) or never answered.
        """
        state = self.state()
        entry = state.node(node_id)
        processes.terminate(entry.pid, entry.argv)
        entry.pid = processes.spawn(entry.argv, Path(entry.log))
        entry.paused = False
        self._save(state)
        _log.info("node_restarted", node=node_id, pid=entry.pid)
        deadline = time.monotonic() + wait_s
        with Client([entry.listen], attempt_timeout_s=1.0) as client:
            while True:
                _check_running(entry)
                if client.status(entry.listen).value is not None:
                    return
                if time.monotonic() >= deadline:
                    msg = f"node {node_id} does not answer {wait_s:.0f} s after its restart"
                    raise ClusterError(msg + f"; see {entry.log}")
                time.sleep(0.1)

    def pause(self, node_id: int) -> bool:
        """Freeze node ``node_id`` (SIGSTOP); True when it was running."""
        state = self.state()
        entry = state.node(node_id)
        paused = processes.send_signal(entry.pid, entry.argv, signal.SIGSTOP)
        entry.paused = entry.paused or paused
        self._save(state)
        _log.info("node_paused", node=node_id, was_running=paused)
        return paused

    def resume(self, node_id: int) -> bool:
        """Thaw node ``node_id`` (SIGCONT); True when it was running."""
        state = self.state()
        entry = state.node(node_id)
        resumed = processes.send_signal(entry.pid, entry.argv, signal.SIGCONT)
        entry.paused = False
        self._save(state)
        _log.info("node_resumed", node=node_id, was_running=resumed)
        return resumed

    def down(self, *, purge: bool = False) -> list[int]:
        """Stop every node, flapper and the proxy (SIGTERM, then SIGKILL); optionally
        delete the data, the secret and the record.

        Returns:
            The ids of the nodes that were running.
        """
        state = self.state()
        for fault in state.faults:
            faults.stop_flapper(fault)
        state.faults = []
        stopped = [n.id for n in state.nodes if processes.terminate(n.pid, n.argv)]
        for entry in state.nodes:
            entry.pid = None
            entry.paused = False
        topology = self.topology()
        if state.proxy is not None and topology is not None:
            toxiproxy.stop(state.proxy, topology)
        self._save(state)
        if purge:
            for entry in state.nodes:
                shutil.rmtree(Path(entry.data_dir).parent, ignore_errors=True)
            names = ("cluster.json", SECRET_FILE, toxiproxy.CONFIG_FILE, toxiproxy.LOG_FILE)
            for name in (*names, faults.FLAPPER_LOG):
                with contextlib.suppress(FileNotFoundError):
                    (self.data_dir / name).unlink()
        _log.info("cluster_stopped", stopped=stopped, purged=purge)
        return stopped

    # ---- the proxy and faults ------------------------------------------------------

    def topology(self) -> Topology | None:
        """The proxy topology, when the cluster runs behind a proxy."""
        state = self.state()
        if state.proxy is None:
            return None
        return Topology(
            nodes=len(state.nodes),
            base_port=state.proxy.base_port,
            placement=Placement.local(node_port=state.proxy.node_port),
        )

    def control(self, *, timeout_s: float = 5.0) -> ToxiproxyControl | None:
        """A control client of the cluster's Toxiproxy server (None without a proxy)."""
        state = self.state()
        return (
            None if state.proxy is None else toxiproxy.control_of(state.proxy, timeout_s=timeout_s)
        )

    def _proxied(self) -> tuple[ClusterState, Topology, ToxiproxyControl]:
        state = self.state()
        topology = self.topology()
        control = self.control()
        if state.proxy is None or topology is None or control is None:
            msg = (
                f"the cluster in {self.data_dir} runs without a proxy: network faults need "
                "`chaoslab cluster up --with-proxy` (after `cluster down --purge`)"
            )
            raise ClusterError(msg)
        return state, topology, control

    def start_fault(self, plan: FaultPlan | LossPlan) -> FaultEntry:
        """Apply a fault plan through the proxy and record it (``heal`` undoes it).

        Raises:
            ClusterError: no proxy, or the proxy server refused the plan.
        """
        state, _, control = self._proxied()
        if isinstance(plan, LossPlan):
            entry = faults.start_flapper(self.data_dir, plan)
        else:
            try:
                injection.apply_plan(control, plan)
            except (ProxyApiError, OSError) as exc:
                msg = f"the Toxiproxy at {control.url} refused the fault: {exc}"
                raise ClusterError(msg) from None
            entry = faults.static_entry(plan)
        state.faults.append(entry)
        self._save(state)
        _log.info("fault_started", f=entry.f, description=entry.description)
        return entry

    def heal(self) -> injection.HealReport:
        """Stop every recorded flapper, then remove every toxic and enable every proxy of
        the topology (faults started anywhere, recorded or not).

        Raises:
            ClusterError: no proxy, or the proxy server failed.
        """
        state, topology, control = self._proxied()
        for fault in state.faults:
            faults.stop_flapper(fault)
        try:
            report = injection.heal(control, topology)
        except (ProxyApiError, OSError) as exc:
            msg = f"healing through {control.url} failed: {exc}"
            raise ClusterError(msg) from None
        state.faults = []
        self._save(state)
        return report

    def info(self) -> dict[str, Any]:
        """The cluster's layout and what is in force: ``cluster info --json``."""
        state = self.state()
        proxy = state.proxy
        nodes = []
        for entry in sorted(state.nodes, key=lambda n: n.id):
            nodes.append(
                {
                    "id": entry.id,
                    "address": entry.client_address,
                    "listen": entry.listen,
                    "peer_listen": entry.peer_listen,
                    "pid": entry.pid,
                    "running": processes.is_running(entry.pid, entry.argv),
                    "paused": entry.paused,
                    "log": entry.log,
                    "data_dir": entry.data_dir,
                }
            )
        return {
            "cluster_dir": str(self.data_dir),
            "cluster_id": state.cluster_id,
            "peer_secret_file": state.peer_secret_file,
            "proxy": None
            if proxy is None
            else {
                "kind": proxy.kind,
                "url": state.proxy_url,
                "base_port": proxy.base_port,
                "running": proxy.kind == "external" or processes.is_running(proxy.pid, proxy.argv),
            },
            "nodes": nodes,
            "faults": [
                {
                    "f": fault.f,
                    "description": fault.description,
                    "started_at": fault.started_at,
                    "running": fault.pid is None or processes.is_running(fault.pid, fault.argv),
                }
                for fault in state.faults
            ],
        }
