"""chaoslab's own cluster under the benchmark, and its clients.

Rules: only the public faces of ``nodes``: the cluster is managed through the
``chaoslab cluster`` CLI and its record (``experiments.cluster.state``, for the pids),
and load goes through ``nodes.client.AsyncClient``, one per worker (its own
sessions). The client sends writes to the leader and spreads reads over all
members itself, as etcd's clients spread over their endpoints.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from experiments.backends.base import NodeState, agreed_leader
from experiments.bench.kv.target import (
    ClusterError,
    KvClient,
    OperationFailed,
    ReadMode,
    System,
    TargetSpec,
)
from experiments.cluster import processes
from experiments.cluster.layout import find_base
from experiments.cluster.processes import chaoslab_argv
from experiments.cluster.state import ClusterState, load_state
from nodes.client import AsyncClient, NodeView

log = structlog.get_logger()


class _ChaoslabClient:
    """One worker's client (its own session: one operation outstanding at a time)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def put(self, key: str, value: str) -> None:
        """Put through the leader (the client follows redirects)."""
        outcome = await self._client.put(key, value)
        if outcome.status != "ok":
            raise OperationFailed(f"chaoslab put: {outcome.status}: {outcome.error}")

    async def get(self, key: str, mode: ReadMode) -> None:
        """Get: ReadIndex (``linearizable``) or the member's local state (``stale``)."""
        consistency = "linearizable" if mode == "linearizable" else "stale"
        outcome = await self._client.get(key, consistency=consistency)
        if outcome.status != "ok":
            raise OperationFailed(f"chaoslab get: {outcome.status}: {outcome.error}")


class ChaoslabPool:
    """One ``AsyncClient`` per worker (member order rotated by the worker index)."""

    def __init__(self, spec: TargetSpec) -> None:
        """Remember the members; clients are made on first use."""
        self._spec = spec
        self._clients: dict[int, tuple[AsyncClient, _ChaoslabClient]] = {}

    def client(self, worker: int) -> KvClient:
        """The client of worker ``worker``."""
        if worker not in self._clients:
            addresses = self._spec.addresses
            shift = worker % len(addresses)
            raw = AsyncClient(addresses[shift:] + addresses[:shift],
                              timeout_s=self._spec.timeout_s)
            self._clients[worker] = (raw, _ChaoslabClient(raw))
        return self._clients[worker][1]

    async def close(self) -> None:
        """Close every client."""
        for raw, _ in self._clients.values():
            await raw.close()
        self._clients.clear()


class ChaoslabCluster:
    """A local chaoslab cluster, managed through ``chaoslab cluster up|restart|down``.

    The record ``DATA_DIR/cluster.json`` (``experiments.cluster.state``) gives the node
    pids, so a kill is a direct SIGKILL at a known instant, not a CLI start-up later.
    """

    def __init__(self, *, nodes: int = 3, data_dir: Path | None = None,
                 base_port: int | None = None, up_args: Sequence[str] = ()) -> None:
        """Plan the cluster (nothing starts until ``start``).

        Args:
            nodes: cluster size.
            data_dir: the cluster's directory (default: a new temp dir, removed on stop).
            base_port: first port (default: a free block found now).
            up_args: extra ``cluster up`` options (e.g. the Raft timing).
        """
        self._nodes = nodes
        self._up_args = tuple(up_args)
        self._own_dir = data_dir is None
        self._dir = Path(tempfile.mkdtemp(prefix="chaoslab-bench-kv-")) if data_dir is None \
            else data_dir
        self._base_port = (
            base_port if base_port is not None
            else find_base(nodes, with_proxy=False, start=32_000)
        )
        self._state: ClusterState | None = None

    @property
    def system(self) -> System:
        """Which store this is."""
        return "chaoslab"

    @property
    def addresses(self) -> tuple[str, ...]:
        """Client addresses, one per node, in id order."""
        return tuple(self._record().client_addresses)

    def spec(self) -> TargetSpec:
        """How a load generator reaches this cluster."""
        return TargetSpec(system="chaoslab", addresses=self.addresses)

    def _record(self) -> ClusterState:
        if self._state is None:
            self._state = load_state(self._dir)
        return self._state

    def _cli(self, *args: str, timeout_s: float = 120.0) -> None:
        argv = chaoslab_argv("cluster", *args, "--data-dir", str(self._dir))
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
        self._state = None
        if done.returncode != 0:
            msg = (f"`chaoslab cluster {' '.join(args)}` exited {done.returncode}: "
                   f"{(done.stderr or done.stdout).strip()[-500:]}")
            raise ClusterError(msg)

    def start(self, *, timeout_s: float = 60.0) -> None:
        """``cluster up`` and wait until healthy.

        Raises:
            ClusterError: if the CLI fails or the cluster is not healthy in time.
        """
        self._cli("up", "--nodes", str(self._nodes), "--base-port", str(self._base_port),
                  *self._up_args)
        log.info("chaoslab_started", data_dir=str(self._dir), clients=self.addresses)
        self.wait_healthy(timeout_s)

    def _statuses(self) -> list[NodeView | None]:
        async def ask() -> list[NodeView | None]:
            async with AsyncClient(self.addresses, timeout_s=1.0,
                                   attempt_timeout_s=0.5) as client:
                outcomes = [await client.status(a) for a in self.addresses]
            return [o.value if o.ok else None for o in outcomes]

        return asyncio.run(ask())

    def _states(self) -> list[NodeState]:
        ids = [n.id for n in sorted(self._record().nodes, key=lambda n: n.id)]
        return [
            NodeState.from_view(node, view, address)
            for node, view, address in zip(ids, self._statuses(), self.addresses, strict=True)
        ]

    def leader(self) -> int:
        """Index of the leader a majority of the nodes agree on (same id and term).

        Raises:
            ClusterError: if no majority agrees.
        """
        states = self._states()
        agreed = agreed_leader(states, len(states))
        if agreed is not None:
            return [s.id for s in states].index(agreed.id)
        msg = f"chaoslab nodes on {self.addresses} do not agree on a leader ({states})"
        raise ClusterError(msg)

    def kill(self, member: int) -> None:
        """SIGKILL one node by its recorded pid and wait until it is gone."""
        entry = sorted(self._record().nodes, key=lambda n: n.id)[member]
        processes.kill(entry.pid, entry.argv)

    def restart(self, member: int) -> None:
        """``cluster restart N``."""
        node_id = sorted(self._record().nodes, key=lambda n: n.id)[member].id
        self._cli("restart", str(node_id))

    def _healthy(self) -> bool:
        states = self._states()
        if any(s.role == "unreachable" for s in states):
            return False
        if agreed_leader(states, len(states)) is None:
            return False
        commit = max(s.commit_index or 0 for s in states)
        return all((s.applied_index or 0) >= commit for s in states) and self._try_put()

    def _try_put(self) -> bool:
        async def put() -> bool:
            async with AsyncClient(self.addresses, timeout_s=1.0) as client:
                return (await client.put("bench-health", "ok")).ok

        return asyncio.run(put())

    def wait_healthy(self, timeout_s: float) -> None:
        """Wait until every node answers, all name one leader, all applied, a put succeeds.

        Raises:
            ClusterError: if not within ``timeout_s`` (node logs are under the data dir).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._healthy():
                return
            time.sleep(0.05)
        msg = f"chaoslab cluster not healthy after {timeout_s}s; logs under {self._dir}"
        raise ClusterError(msg)

    def server_pids(self) -> Sequence[int]:
        """Pids of the running nodes."""
        return [n.pid for n in self._record().nodes
                if n.pid is not None and processes.is_running(n.pid, n.argv)]

    def stop(self) -> None:
        """``cluster down`` and remove a temp data dir."""
        try:
            self._cli("down")
        finally:
            if self._own_dir:
                shutil.rmtree(self._dir, ignore_errors=True)
        log.info("chaoslab_stopped")
