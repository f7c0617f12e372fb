"""A throw-away 3-member etcd cluster on 127.0.0.1, and etcd clients over its gRPC API.

Rules: the cluster owns its processes (own session, SIGKILL-able one by one) and a
temp data directory it removes on ``stop``. Clients speak etcd's v3 gRPC API
(``etcdserverpb.KV`` Put/Range, ``Maintenance`` Status) through the minimal
messages in ``etcd_kv.proto``; there is no etcd client library in between. Every
wait is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import grpc
import grpc.aio
import structlog

from experiments.bench.kv import etcd_kv_pb2 as pb
from experiments.bench.kv.target import (
    ClusterError,
    KvClient,
    OperationFailed,
    ReadMode,
    System,
    TargetSpec,
)
from experiments.errors import LabError
from proxy.ports import free_ports

log = structlog.get_logger()

HEARTBEAT_MS: Final = 50
ELECTION_MS: Final = 300
INSTALL_COMMAND: Final = "apt-get install -y etcd-server"


class EtcdMissing(LabError, RuntimeError):
    """No ``etcd`` binary on PATH (and it could not be installed here)."""


def ensure_etcd(*, install: bool) -> str:
    """Find the ``etcd`` binary, installing Debian's ``etcd-server`` if allowed.

    Args:
        install: try ``apt-get install`` when missing (only works as root).

    Returns:
        The path of the binary.

    Raises:
        EtcdMissing: if it is missing and could not be installed; says the command.
    """
    found = shutil.which("etcd")
    if found:
        return found
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        log.warning("etcd_missing_installing", command=INSTALL_COMMAND)
        for command in (["apt-get", "update"], INSTALL_COMMAND.split()):
            subprocess.run(command, check=False, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=600)
        found = shutil.which("etcd")
        if found:
            return found
    msg = f"etcd is not installed (no 'etcd' on PATH): run `{INSTALL_COMMAND}` as root"
    raise EtcdMissing(msg)


def _sync_call(channel: grpc.Channel, method: str, response: Any) -> Callable[..., Any]:
    call: Callable[..., Any] = channel.unary_unary(
        method, request_serializer=_serialize, response_deserializer=response.FromString)
    return call


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


class EtcdCluster:
    """Three (or N) etcd members on loopback ports, started by ``start``."""

    def __init__(self, *, binary: str, members: int = 3, data_dir: Path | None = None) -> None:
        """Plan the cluster (nothing starts until ``start``).

        Args:
            binary: path of ``etcd``.
            members: cluster size.
            data_dir: where members keep their data (default: a new temp dir, removed on stop).
        """
        self._binary = binary
        self._own_dir = data_dir is None
        self._dir = Path(tempfile.mkdtemp(prefix="chaoslab-bench-etcd-")) if data_dir is None \
            else data_dir
        ports = free_ports(2 * members)
        self._client_ports = ports[:members]
        self._peer_ports = ports[members:]
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * members
        self._ids: dict[int, int] = {}

    @property
    def system(self) -> System:
        """Which store this is."""
        return "etcd"

    @property
    def addresses(self) -> tuple[str, ...]:
        """Client addresses, one per member."""
        return tuple(f"127.0.0.1:{port}" for port in self._client_ports)

    def spec(self) -> TargetSpec:
        """How a load generator reaches this cluster."""
        return TargetSpec(system="etcd", addresses=self.addresses)

    def _args(self, member: int) -> list[str]:
        name = f"m{member + 1}"
        peers = ",".join(f"m{i + 1}=http://127.0.0.1:{port}"
                         for i, port in enumerate(self._peer_ports))
        client = f"http://127.0.0.1:{self._client_ports[member]}"
        peer = f"http://127.0.0.1:{self._peer_ports[member]}"
        return [
            self._binary, "--name", name, "--data-dir", str(self._dir / name),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", peers, "--initial-cluster-state", "new",
            "--initial-cluster-token", "chaoslab-bench",
            "--heartbeat-interval", str(HEARTBEAT_MS), "--election-timeout", str(ELECTION_MS),
            "--logger", "zap", "--log-level", "warn",
        ]

    def _spawn(self, member: int) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        with (self._dir / f"m{member + 1}.log").open("ab") as out:
            self._procs[member] = subprocess.Popen(
                self._args(member), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

    def start(self, *, timeout_s: float = 30.0) -> None:
        """Start every member and wait until the cluster is healthy.

        Raises:
            ClusterError: if it is not healthy within ``timeout_s`` (logs are in the data dir).
        """
        for member in range(len(self._procs)):
            self._spawn(member)
        log.info("etcd_started", data_dir=str(self._dir), clients=self.addresses)
        self.wait_healthy(timeout_s)

    def _status(self, member: int, timeout_s: float = 0.5) -> Any:
        with grpc.insecure_channel(self.addresses[member]) as channel:
            call = _sync_call(channel, "/etcdserverpb.Maintenance/Status", pb.StatusResponse)
            return call(pb.StatusRequest(), timeout=timeout_s)

    def _leader_id(self) -> int | None:
        """The leader's member id if every running member names the same, non-zero one."""
        leaders = set()
        for member, proc in enumerate(self._procs):
            if proc is None or proc.poll() is not None:
                continue
            try:
                status = self._status(member)
            except grpc.RpcError:
                return None
            self._ids[member] = status.header.member_id
            leaders.add(status.leader)
        if len(leaders) != 1 or 0 in leaders:
            return None
        leader: int = leaders.pop()
        return leader

    def leader(self) -> int:
        """Index of the current leader.

        Raises:
            ClusterError: if the running members do not agree on one.
        """
        leader_id = self._leader_id()
        for member, member_id in self._ids.items():
            if leader_id is not None and member_id == leader_id:
                return member
        msg = f"etcd members on {self.addresses} do not agree on a leader"
        raise ClusterError(msg)

    def kill(self, member: int) -> None:
        """SIGKILL one member and reap it."""
        proc = self._procs[member]
        if proc is None:
            return
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        self._procs[member] = None

    def restart(self, member: int) -> None:
        """Start a killed member again on its data directory."""
        if self._procs[member] is None:
            self._spawn(member)

    def wait_healthy(self, timeout_s: float) -> None:
        """Wait until every member runs, all name one leader and a put succeeds.

        Raises:
            ClusterError: if not within ``timeout_s``, naming the data dir with the logs.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [m for m, p in enumerate(self._procs) if p is None or p.poll() is not None]
            if dead:
                msg = f"etcd member(s) {dead} exited; logs in {self._dir}"
                raise ClusterError(msg)
            if self._leader_id() is not None and self._try_put():
                return
            time.sleep(0.05)
        msg = f"etcd cluster not healthy after {timeout_s}s; logs in {self._dir}"
        raise ClusterError(msg)

    def _try_put(self) -> bool:
        with grpc.insecure_channel(self.addresses[0]) as channel:
            call = _sync_call(channel, "/etcdserverpb.KV/Put", pb.PutResponse)
            try:
                call(pb.PutRequest(key=b"bench-health", value=b"ok"), timeout=1.0)
            except grpc.RpcError:
                return False
        return True

    def server_pids(self) -> Sequence[int]:
        """Process ids of the running members."""
        return [p.pid for p in self._procs if p is not None and p.poll() is None]

    def stop(self) -> None:
        """Stop every member (SIGTERM, then SIGKILL) and remove a temp data dir."""
        for proc in self._procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for member, proc in enumerate(self._procs):
            if proc is None:
                continue
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            self._procs[member] = None
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)
        log.info("etcd_stopped")


class _EtcdClient:
    """One worker's view: put/get through one member's channel."""

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float) -> None:
        self._timeout = timeout_s
        self._put = channel.unary_unary("/etcdserverpb.KV/Put", request_serializer=_serialize,
                                        response_deserializer=pb.PutResponse.FromString)
        self._range = channel.unary_unary("/etcdserverpb.KV/Range",
                                          request_serializer=_serialize,
                                          response_deserializer=pb.RangeResponse.FromString)

    async def put(self, key: str, value: str) -> None:
        """Put through this member (etcd forwards to the leader)."""
        try:
            await self._put(pb.PutRequest(key=key.encode(), value=value.encode()),
                            timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise OperationFailed(f"etcd put: {error.code().name}: {error.details()}") from None

    async def get(self, key: str, mode: ReadMode) -> None:
        """Range one key: linearizable, or serializable (member-local) for ``local``."""
        request = pb.RangeRequest(key=key.encode(), serializable=mode == "local")
        try:
            await self._range(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise OperationFailed(f"etcd get: {error.code().name}: {error.details()}") from None


class EtcdPool:
    """One channel per member; worker ``i`` uses member ``i mod n`` (round-robin)."""

    def __init__(self, spec: TargetSpec) -> None:
        """Open a channel to every member of ``spec`` (must run inside an event loop)."""
        self._channels = [grpc.aio.insecure_channel(a) for a in spec.addresses]
        self._clients = [_EtcdClient(c, spec.timeout_s) for c in self._channels]

    def client(self, worker: int) -> KvClient:
        """The client of worker ``worker``."""
        return self._clients[worker % len(self._clients)]

    async def close(self) -> None:
        """Close every channel."""
        for channel in self._channels:
            with contextlib.suppress(Exception):
                await channel.close()
        await asyncio.sleep(0)
