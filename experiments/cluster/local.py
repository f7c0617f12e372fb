"""A local cluster of node processes on 127.0.0.1, optionally behind the embedded Toxiproxy.

Rules: every process is recorded in ``DATA_DIR/cluster.json`` (``state``) before
anything waits on it, so another terminal (or a crashed CLI) can manage it.
Every wait is bounded. With a proxy, nodes send to their peers through the
``proxy.topology`` link proxies and clients use the client proxies.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from experiments.cluster import processes
from experiments.cluster.state import (
    ClusterError,
    ClusterState,
    NodeEntry,
    ProxyEntry,
    load_state,
    save_state,
    state_path,
)
from nodes.client import Client, NodeView
from proxy.control import ProxyApiError, ToxiproxyControl
from proxy.ports import find_free_base_port
from proxy.topology import Placement, Topology, toxiproxy_config

_log = structlog.get_logger()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpOptions:
    """How ``cluster up`` starts a cluster."""

    nodes: int = 3
    base_port: int | None = None
    """Node i listens on ``base_port + i`` (default: a free block)."""
    with_proxy: bool = False
    tick_ms: int = 10
    election_tick: int = 15
    heartbeat_tick: int = 3
    snapshot_every: int | None = None
    sync: str = "always"
    forward_writes: bool = False
    log_format: str = "json"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeReport:
    """One row of ``cluster status``."""

    id: int
    address: str
    view: NodeView | None
    error: str | None = None

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


def _port_free(port: int) -> bool:
    with contextlib.closing(socket.socket()) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the OS says is free right now."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _tail(log: Path) -> str:
    """The last line of a log, shortened (for error messages)."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def find_node_base(nodes: int, *, start: int = 7100, attempts: int = 200) -> int:
    """A base such that ports ``base + 1 .. base + nodes`` are free on 127.0.0.1.

    Raises:
        ClusterError: none found.
    """
    for base in range(start, start + 10 * attempts, 10):
        if all(_port_free(base + i) for i in range(1, nodes + 1)):
            return base
    msg = f"no {nodes} free consecutive ports on 127.0.0.1 from {start}"
    raise ClusterError(msg)


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

    def running(self, state: ClusterState | None = None) -> list[int]:
        """Ids of the nodes whose process runs."""
        state = state or self.state()
        return [n.id for n in state.nodes if processes.is_running(n.pid, n.argv)]

    # ---- lifecycle ---------------------------------------------------------------

    def up(self, options: UpOptions, *, wait_s: float = 30.0) -> ClusterState:
        """Start the cluster (reusing the record and data when one exists) and wait for a leader.

        Raises:
            ClusterError: it already runs, the record disagrees with ``options``, a
                process could not start, or no leader was elected within ``wait_s``.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.exists():
            state = self.state()
            alive = self.running(state)
            if alive:
                msg = (
                    f"a cluster already runs in {self.data_dir} (nodes {alive}); "
                    "use `chaoslab cluster down` first or another --data-dir"
                )
                raise ClusterError(msg)
            if len(state.nodes) != options.nodes:
                msg = (
                    f"{state_path(self.data_dir)} records {len(state.nodes)} nodes, not "
                    f"{options.nodes}; use `chaoslab cluster down --purge` or another --data-dir"
                )
                raise ClusterError(msg)
        else:
            state = self._plan(options)
        save_state(self.data_dir, state)
        if state.proxy is not None:
            self._start_proxy(state)
        for entry in state.nodes:
            entry.pid = processes.spawn(entry.argv, Path(entry.log))
            save_state(self.data_dir, state)
        _log.info("cluster_started", nodes=len(state.nodes), data_dir=str(self.data_dir))
        self.wait_for_leader(wait_s)
        return state

    def _plan(self, options: UpOptions) -> ClusterState:
        n = options.nodes
        node_base = options.base_port if options.base_port is not None else find_node_base(n)
        proxy: ProxyEntry | None = None
        listens = {i: f"127.0.0.1:{node_base + i}" for i in range(1, n + 1)}
        peers_of = {i: {j: listens[j] for j in listens if j != i} for i in listens}
        clients = dict(listens)
        if options.with_proxy:
            # A random start, so concurrent clusters on one machine do not race for ports.
            proxy_base = find_free_base_port(n, start=random.Random().randrange(21_000, 35_000))
            topology = Topology(
                nodes=n, base_port=proxy_base, placement=Placement.local(node_port=node_base)
            )
            peers_of = {i: topology.peer_addresses(i) for i in listens}
            clients = topology.client_addresses()
            config = self.data_dir / "proxy.json"
            config.write_text(json.dumps(toxiproxy_config(topology), indent=2) + "\n")
            api_port = free_port()
            proxy = ProxyEntry(
                argv=processes.chaoslab_argv(
                    "--log-format",
                    "json",
                    "proxy",
                    "serve",
                    "--port",
                    str(api_port),
                    "--config",
                    str(config),
                ),
                log=str(self.data_dir / "proxy.log"),
                api_port=api_port,
                base_port=proxy_base,
                node_port=node_base,
            )
        client_arg = ",".join(f"{i}={a}" for i, a in sorted(clients.items()))
        nodes = []
        for i, listen in listens.items():
            node_dir = self.data_dir / f"n{i}"
            args = [
                "--log-format",
                options.log_format,
                "node",
                "--id",
                str(i),
                "--listen",
                listen,
                "--peers",
                ",".join(f"{j}={a}" for j, a in sorted(peers_of[i].items())),
                "--client-addresses",
                client_arg,
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
            args += ["--data-dir", str(node_dir / "data")]
            nodes.append(
                NodeEntry(
                    argv=processes.chaoslab_argv(*args),
                    log=str(node_dir / "node.log"),
                    id=i,
                    listen=listen,
                    client_address=clients[i],
                    data_dir=str(node_dir / "data"),
                )
            )
        return ClusterState(nodes=nodes, proxy=proxy)

    def _start_proxy(self, state: ClusterState, wait_s: float = 15.0) -> None:
        entry = state.proxy
        assert entry is not None
        if not processes.is_running(entry.pid, entry.argv):
            entry.pid = processes.spawn(entry.argv, Path(entry.log))
            save_state(self.data_dir, state)
        control = ToxiproxyControl(f"http://127.0.0.1:{entry.api_port}", timeout_s=1.0)
        deadline = time.monotonic() + wait_s
        expected = len(state.nodes) ** 2
        while time.monotonic() < deadline:
            with contextlib.suppress(ProxyApiError, OSError):
                if len(control.proxies()) >= expected:
                    return
            if not processes.is_running(entry.pid, entry.argv):
                break
            time.sleep(0.1)
        msg = f"the embedded Toxiproxy did not come up on port {entry.api_port}; see {entry.log}"
        raise ClusterError(msg)

    def wait_for_leader(self, wait_s: float = 30.0) -> NodeReport:
        """Wait (bounded) until a majority of nodes agree on one leader.

        Raises:
            ClusterError: no leader within ``wait_s``.
        """
        state = self.state()
        quorum = len(state.nodes) // 2 + 1
        deadline = time.monotonic() + wait_s
        while True:
            self._check_alive(state)
            reports = self.status(state)
            leaders = [r for r in reports if r.view is not None and r.view.role == "leader"]
            for leader in leaders:
                agree = [
                    r
                    for r in reports
                    if r.view is not None
                    and r.view.leader_id == leader.id
                    and r.view.term == leader.view.term  # type: ignore[union-attr]
                ]
                if len(agree) >= quorum:
                    return leader
            if time.monotonic() >= deadline:
                msg = f"no leader elected within {wait_s:.0f} s; see the logs in {self.data_dir}"
                raise ClusterError(msg)
            time.sleep(0.1)

    def _check_alive(self, state: ClusterState) -> None:
        """Raise when a node that should run has exited (e.g. its port was taken)."""
        for entry in state.nodes:
            if entry.pid is not None and not processes.is_running(entry.pid, entry.argv):
                tail = _tail(Path(entry.log))
                ended = processes.how_it_ended(entry.pid)
                msg = (
                    f"node {entry.id} (pid {entry.pid}) exited"
                    + (f" ({ended})" if ended else "")
                    + f"; see {entry.log}"
                    + (f": {tail}" if tail else "")
                )
                raise ClusterError(msg)

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
        save_state(self.data_dir, state)
        _log.info("node_killed", node=node_id, was_running=killed)
        return killed

    def restart(self, node_id: int) -> None:
        """Stop node ``node_id`` if it runs (SIGTERM), then start it again."""
        state = self.state()
        entry = state.node(node_id)
        processes.terminate(entry.pid, entry.argv)
        entry.pid = processes.spawn(entry.argv, Path(entry.log))
        save_state(self.data_dir, state)
        _log.info("node_restarted", node=node_id, pid=entry.pid)

    def down(self, *, purge: bool = False) -> list[int]:
        """Stop every node and the proxy (SIGTERM, then SIGKILL); optionally delete the data.

        Returns:
            The ids of the nodes that were running.
        """
        state = self.state()
        stopped = [n.id for n in state.nodes if processes.terminate(n.pid, n.argv)]
        for entry in state.nodes:
            entry.pid = None
        if state.proxy is not None:
            processes.terminate(state.proxy.pid, state.proxy.argv)
            state.proxy.pid = None
        save_state(self.data_dir, state)
        if purge:
            for entry in state.nodes:
                shutil.rmtree(Path(entry.data_dir).parent, ignore_errors=True)
            for name in ("cluster.json", "proxy.json", "proxy.log"):
                with contextlib.suppress(FileNotFoundError):
                    (self.data_dir / name).unlink()
        _log.info("cluster_stopped", stopped=stopped, purged=purge)
        return stopped

    def topology(self) -> Topology | None:
        """The proxy topology, when the cluster runs behind the embedded proxy."""
        state = self.state()
        if state.proxy is None:
            return None
        return Topology(
            nodes=len(state.nodes),
            base_port=state.proxy.base_port,
            placement=Placement.local(node_port=state.proxy.node_port),
        )
