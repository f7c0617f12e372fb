"""The ``local`` backend for any process store (``experiments.stores``): its members as
processes on loopback, every peer link and client behind a Toxiproxy server.

Rules: the cluster lives in a directory of its own (members' data and logs, the proxy's
config and log), made for the run and removed after it unless kept. Members dial their
peers by name; each member runs in a mount namespace of its own whose ``/etc/hosts``
(a bind mount of ``hosts.nI``) sends those names to its link proxies
(``experiments.stores.mesh``): ``unshare -m`` as root, ``unshare -rm`` (a user
namespace) otherwise. Status is read at each member's own client port, clients use the
client proxies. Process faults are signals (SIGKILL, SIGSTOP/SIGCONT) to the member's
pid; network faults and probes are the same code as chaoslab's local backend
(``experiments.backends.real``). In-node faults (clock, disk) and seeded bugs need
chaoslab's own failpoints: refused. ``stop`` heals, thaws and stops everything, whatever
happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import structlog

from experiments.backends.base import (
    ClientSettings,
    DirectedLink,
    NodeId,
    NodeState,
    OpClient,
    Probes,
    Program,
    ResolvedFault,
    agreed_leader,
)
from experiments.backends.loops import run_on_asyncio
from experiments.backends.real import (
    heal_proxies,
    probe_links,
    start_process_fault,
    start_proxy_fault,
    undo_fault,
)
from experiments.cluster import processes
from experiments.cluster.layout import find_base
from experiments.cluster.state import ClusterError
from experiments.errors import BackendFailure
from experiments.schedule import NemesisKind
from experiments.stores.base import MemberPlan, ProcessStore, StoreTiming, fault_refusals
from experiments.stores.mesh import NamedPeerTopology, named_peer_topology
from proxy.control import ProxyApiError, ToxiproxyControl
from proxy.topology import toxiproxy_config

_log = structlog.get_logger()

READY_WAIT_S: Final = 15.0
LEADER_WAIT_S: Final = 30.0
NAMESPACE_SCRIPT: Final = 'mount --bind "$0" /etc/hosts && exec "$@"'
"""Run inside ``unshare -m``: this member's hosts file over /etc/hosts, then the member."""


def namespace_prefix(hosts: Path) -> list[str]:
    """The argv prefix that runs a member in its own mount namespace with ``hosts`` as its
    ``/etc/hosts`` (see the module docstring)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        msg = "`unshare` (util-linux) is missing: per-member peer names need it"
        raise BackendFailure(msg)
    flags = "-m" if os.geteuid() == 0 else "-rm"
    return [unshare, flags, "sh", "-c", NAMESPACE_SCRIPT, str(hosts)]


@dataclass(slots=True)
class _Member:
    plan: MemberPlan
    argv: list[str]
    """The member's own command line (what its pid runs once the wrapper exec'd)."""
    spawn: list[str]
    """What is started: the namespace wrapper, then ``argv``."""
    env: dict[str, str]
    log: Path
    pid: int | None = None


class StoreLocalBackend:
    """A process store's members on loopback behind a proxy (see the module docstring).

    Args:
        store: the adapter.
        nodes: cluster size.
        timing: the run's Raft timing.
        consistency: the experiment's ``cluster.consistency`` (one of the store's modes).
        data_dir: where the cluster lives (default: a temporary directory).
        keep: keep that directory after the run.
        toxiproxy_server: a real ``toxiproxy-server`` binary instead of the embedded one.
    """

    backend = "local"

    def __init__(
        self,
        store: ProcessStore,
        *,
        nodes: int,
        timing: StoreTiming,
        consistency: str,
        data_dir: Path | None = None,
        keep: bool = False,
        toxiproxy_server: str | None = None,
    ) -> None:
        self.store = store
        self.node_ids: tuple[NodeId, ...] = tuple(range(1, nodes + 1))
        self.timing = timing
        self.consistency = consistency
        self.keep = keep
        self._made_dir = data_dir is None
        self.directory = data_dir or Path(tempfile.mkdtemp(prefix=f"chaoslab-{store.name}-"))
        self._toxiproxy_server = toxiproxy_server
        self.mesh: NamedPeerTopology | None = None
        self._members: dict[NodeId, _Member] = {}
        self._proxy_argv: list[str] = []
        self._proxy_pid: int | None = None
        self._control: ToxiproxyControl | None = None
        self._paused: set[NodeId] = set()
        self._killed: set[NodeId] = set()

    # ---- lifecycle --------------------------------------------------------------------

    def refusals(self, kinds: set[NemesisKind]) -> list[str]:
        """Faults a process store cannot take: protocol-aimed and in-node ones."""
        return fault_refusals(self.store.name, kinds)

    def start(self) -> None:
        """Plan the ports, start the proxy and every member, wait for a leader."""
        try:
            self._start()
        except (BackendFailure, ClusterError, OSError, ProxyApiError) as exc:
            self.stop()
            msg = f"the {self.store.name} cluster did not start: {exc}"
            raise BackendFailure(msg) from exc

    def _start(self) -> None:
        self.store.prepare()
        self.directory.mkdir(parents=True, exist_ok=True)
        nodes = len(self.node_ids)
        base = find_base(nodes, with_proxy=True)
        mesh = self.mesh = named_peer_topology(nodes, base)
        self._start_proxy(mesh)
        token = f"chaoslab-{uuid.uuid4().hex[:12]}"
        for node in self.node_ids:
            member_dir = self.directory / f"n{node}"
            member_dir.mkdir(exist_ok=True)
            plan = MemberPlan(
                node=node,
                mesh=mesh,
                data_dir=member_dir / "data",
                cluster_dir=self.directory,
                timing=self.timing,
                consistency=self.consistency,
                cluster_token=token,
            )
            command = self.store.member(plan)
            hosts = self.directory / f"hosts.n{node}"
            hosts.write_text(mesh.hosts_file(node))
            self._members[node] = _Member(
                plan=plan,
                argv=list(command.argv),
                spawn=[*namespace_prefix(hosts), *command.argv],
                env={**os.environ, **(command.env or {})},
                log=self.directory / f"n{node}.log",
            )
        for node in self.node_ids:
            self._spawn(node)
        _log.info("store.started", store=self.store.name, nodes=nodes, dir=str(self.directory))
        self._wait_for_leader(LEADER_WAIT_S)

    def _start_proxy(self, mesh: NamedPeerTopology) -> None:
        config = self.directory / "proxy.json"
        config.write_text(json.dumps(toxiproxy_config(mesh), indent=2) + "\n")
        api = mesh.base_port
        if self._toxiproxy_server is not None:
            self._proxy_argv = [
                self._toxiproxy_server,
                "-host",
                "127.0.0.1",
                "-port",
                str(api),
                "-config",
                str(config),
            ]
        else:
            self._proxy_argv = processes.chaoslab_argv(
                "--log-format",
                "json",
                "proxy",
                "serve",
                "--port",
                str(api),
                "--config",
                str(config),
            )
        self._proxy_pid = processes.spawn(self._proxy_argv, self.directory / "proxy.log")
        control = self._control = ToxiproxyControl(f"http://127.0.0.1:{api}", timeout_s=5.0)
        wanted = {spec.name for spec in mesh.proxies()}
        deadline = time.monotonic() + READY_WAIT_S
        while time.monotonic() < deadline:
            if not processes.is_running(self._proxy_pid, self._proxy_argv):
                msg = f"the proxy server exited; see {self.directory / 'proxy.log'}"
                raise BackendFailure(msg)
            with contextlib.suppress(ProxyApiError, OSError):
                if wanted <= set(control.proxies()):
                    return
            time.sleep(0.05)
        msg = f"the proxy server did not create its proxies in {READY_WAIT_S:.0f} s"
        raise BackendFailure(msg)

    def _spawn(self, node: NodeId) -> None:
        member = self._members[node]
        member.plan.data_dir.parent.mkdir(parents=True, exist_ok=True)
        member.pid = processes.spawn(member.spawn, member.log, env=member.env)

    def _running(self, node: NodeId) -> bool:
        member = self._members.get(node)
        return member is not None and processes.is_running(member.pid, member.argv)

    def _wait_for_leader(self, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            dead = [n for n in self.node_ids if not self._running(n)]
            if dead:
                names = ", ".join(f"n{n}" for n in dead)
                first = self._members[dead[0]]
                ended = processes.how_it_ended(first.pid) or "exited"
                msg = f"{names} of the {self.store.name} cluster {ended}: {_last_line(first.log)}"
                raise BackendFailure(msg)
            if agreed_leader(self.status(), len(self.node_ids)) is not None:
                return
            if time.monotonic() >= deadline:
                msg = f"no leader within {wait_s:.0f} s; see the logs in {self.directory}"
                raise BackendFailure(msg)
            time.sleep(0.1)

    def stop(self) -> None:
        """Heal, thaw, stop every process; remove the directory unless kept."""
        with contextlib.suppress(Exception):
            self.heal()
        for node, member in self._members.items():
            if node in self._paused:
                processes.send_signal(member.pid, member.argv, signal.SIGCONT)
            processes.terminate(member.pid, member.argv)
        self._paused.clear()
        if self._proxy_pid is not None:
            processes.terminate(self._proxy_pid, self._proxy_argv)
            self._proxy_pid = None
        self.store.close()
        if self._made_dir and not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    def pids(self) -> list[int]:
        """The process ids of the running members and the proxy server."""
        found = [m.pid for n, m in self._members.items() if m.pid and self._running(n)]
        if self._proxy_pid is not None and processes.is_running(self._proxy_pid, self._proxy_argv):
            found.append(self._proxy_pid)
        return found

    def execute(self, program: Program, *, limit_s: float) -> bool:
        """Run ``program`` on an asyncio loop (wall-clock time)."""
        return run_on_asyncio(program, limit_s=limit_s)

    def save_logs(self, directory: Path) -> None:
        """Copy every member's log and the proxy's into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        for node, member in self._members.items():
            with contextlib.suppress(OSError):
                shutil.copyfile(member.log, directory / f"n{node}.log")
        with contextlib.suppress(OSError):
            shutil.copyfile(self.directory / "proxy.log", directory / "proxy.log")

    # ---- status and process faults ------------------------------------------------------

    @property
    def _status_addresses(self) -> dict[NodeId, str]:
        return {node: m.plan.client_listen for node, m in self._members.items()}

    def status(self) -> list[NodeState]:
        """Every member's state, read at its own client port."""
        if self.mesh is None:
            msg = f"the {self.store.name} cluster is not started"
            raise BackendFailure(msg)
        states = self.store.status(self._status_addresses, 0.5)
        if not isinstance(states, list) or not all(isinstance(s, NodeState) for s in states):
            msg = (
                f"the {self.store.name} adapter's status() returned {type(states).__name__}: "
                "expected a list of NodeState, one per member"
            )
            raise BackendFailure(msg)
        return states

    def kill(self, node: NodeId) -> None:
        """SIGKILL the member."""
        member = self._members[node]
        if node in self._paused:
            self.resume(node)
        if not processes.kill(member.pid, member.argv):
            msg = f"n{node} is not running (cannot kill it)"
            raise BackendFailure(msg)
        self._killed.add(node)

    def restart(self, node: NodeId) -> None:
        """Start a killed member again on its data."""
        if self._running(node):
            self._killed.discard(node)
            return
        self._spawn(node)
        self._killed.discard(node)

    def pause(self, node: NodeId) -> None:
        """SIGSTOP the member."""
        member = self._members[node]
        if not processes.send_signal(member.pid, member.argv, signal.SIGSTOP):
            msg = f"n{node} is not running (cannot pause it)"
            raise BackendFailure(msg)
        self._paused.add(node)

    def resume(self, node: NodeId) -> None:
        """SIGCONT the member."""
        member = self._members[node]
        processes.send_signal(member.pid, member.argv, signal.SIGCONT)
        self._paused.discard(node)

    # ---- faults -------------------------------------------------------------------------

    def apply(self, fault: ResolvedFault) -> Any:
        """Inject ``fault``; returns what ``undo`` needs."""
        kind = fault.kind
        process = start_process_fault(fault, kill=self.kill, pause=self.pause)
        if process is not None:
            return process
        if kind.in_node or kind.simulator_only:
            msg = f"{kind.value} cannot be injected into the {self.store.name} store"
            raise BackendFailure(msg)
        if self._control is None or self.mesh is None:
            msg = f"the {self.store.name} cluster is not started"
            raise BackendFailure(msg)
        return start_proxy_fault(self._control, self.mesh, fault)

    def undo(self, handle: Any) -> None:
        """Undo one fault."""
        undo_fault(handle, in_node=_no_in_node, restart=self.restart, resume=self.resume)

    def heal(self) -> None:
        """Restore every link, thaw paused members, restart killed ones."""
        if self._control is not None and self.mesh is not None:
            heal_proxies(self._control, self.mesh)
        for node in sorted(self._paused):
            self.resume(node)
        for node in sorted(self._killed):
            self.restart(node)

    def probe(self, links: list[DirectedLink]) -> Probes:
        """Probe links through their proxies (see ``Cluster.probe``)."""
        if self.mesh is None:
            return {}
        return probe_links(self.mesh, links)

    # ---- clients ------------------------------------------------------------------------

    @property
    def client_addresses(self) -> dict[NodeId, str]:
        """Node id → where clients reach it (its client proxy)."""
        if self.mesh is None:
            return {}
        return self.mesh.client_addresses()

    def client(self, settings: ClientSettings) -> OpClient:
        """A recorded client through the client proxies."""
        return self.store.client(self.client_addresses, settings, self.consistency)


def _last_line(log: Path) -> str:
    """The last line a member logged (what it died of, usually), shortened."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return lines[-1][-400:] if lines else "(its log is empty)"


def _no_in_node(_category: str, _nodes: tuple[NodeId, ...], *, restart: bool) -> None:
    """Process stores take no in-node faults (``apply`` refuses them)."""
    del restart


def unshare_works() -> str | None:
    """Why members cannot get mount namespaces of their own here (None: they can)."""
    try:
        probe = subprocess.run(
            [*namespace_prefix(Path("/etc/hosts")), "true"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (BackendFailure, OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if probe.returncode != 0:
        return f"`unshare` failed: {probe.stderr.strip() or probe.returncode}"
    return None
