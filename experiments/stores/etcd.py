"""etcd as a store chaoslab judges: members from Debian's ``etcd-server``, peers through the
proxy mesh, clients over etcd's own v3 gRPC API.

Rules: no etcd client library: the messages of ``experiments/bench/kv/etcd_kv.proto``
(Put, Range, Txn, Maintenance.Status) over grpc.aio, one channel per member. Every
operation runs the shared retry policy (``nodes.client.policy``), so deadlines,
back-off, home routing and the circuit breaker behave as they do for chaoslab's nodes.

Mapping (history vocabulary)
    * read → ``Range`` (linearizable in ``cp``, ``serializable=true`` in ``stale``:
      the member answers from its own state); an absent key reads ``None``;
    * write → ``Put``;
    * cas [old, new] → one ``Txn``: compare the value with ``old`` (or, for ``old``
      None, that the key was never created), put ``new`` on success, read the key on
      failure (``fail`` with ``error: mismatch``).

Honest outcomes: an answer is ``ok``; a connection that never opened, INVALID_ARGUMENT,
"too many requests" and "no leader" (refused before anything is proposed) certainly did
nothing; a deadline, "request timed out" or "leader changed", and every other error
leave a write's effect unknown (``info``). A read that failed changed nothing (``fail``).

Status: ``Maintenance.Status`` at each member's own client port (never through a
proxy): the member's id, the leader's id and the Raft term; ids are mapped to node ids
as members answer. Each member's ``/metrics`` (at most once a second) gives its count of
failed sends per peer, the evidence that a loss or cut took effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

import grpc
import grpc.aio
import structlog

from experiments.backends.base import ClientSettings, NodeId, NodeState, OpDone, Role
from experiments.backends.real import LoopThread
from experiments.bench.kv import etcd_kv_pb2 as pb
from experiments.bench.kv.etcd import INSTALL_COMMAND, EtcdMissing, ensure_etcd
from experiments.errors import BackendFailure
from experiments.stores.base import MemberCommand, MemberPlan
from experiments.workload import OpRequest
from nodes.client.aio import drive_operation
from nodes.client.policy import Attempted, Result, Router

_log = structlog.get_logger()

CONSISTENCY_MODES: Final = {
    "cp": "linearizable reads (etcd's default: a ReadIndex round through the leader)",
    "stale": "serializable reads (the member answers from its own state; may be stale)",
}
METRICS_EVERY_S: Final = 1.0
SENT_FAILURES: Final = "etcd_network_peer_sent_failures_total{"
_DEFINITE: Final = ("etcdserver: too many requests", "etcdserver: no leader")
"""Server errors returned before anything was proposed."""
_NEVER_SENT: Final = (
    "failed to connect",
    "connection refused",
    "connect failed",
    "dns resolution failed",
    "no route to host",
)


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


class EtcdStore:
    """The etcd adapter (see the module docstring)."""

    name = "etcd"
    consistency_modes: Mapping[str, str] = CONSISTENCY_MODES

    def __init__(self) -> None:
        self._binary: str | None = None
        self._ids: dict[int, NodeId] = {}
        """etcd member id → node id (learnt from status answers)."""
        self._thread: LoopThread | None = None
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._metrics: dict[str, tuple[float, dict[NodeId, int]]] = {}
        """Client address → (when read, failures per peer)."""

    # ---- members --------------------------------------------------------------------

    def prepare(self) -> None:
        """Find ``etcd`` (installing Debian's etcd-server as root where missing)."""
        try:
            self._binary = ensure_etcd(install=True)
        except EtcdMissing as exc:
            raise BackendFailure(str(exc)) from None

    def member(self, plan: MemberPlan) -> MemberCommand:
        """etcd's command line for one member: own listeners on 127.0.0.1, peer URLs by
        name (resolved through the member's own hosts file to its link proxies)."""
        binary = self._binary or shutil.which("etcd")
        if binary is None:
            msg = f"etcd is not installed: run `{INSTALL_COMMAND}` as root"
            raise BackendFailure(msg)
        node = plan.node
        urls = plan.peer_urls()
        client = f"http://{plan.client_listen}"
        return MemberCommand(
            argv=[
                binary,
                "--name",
                f"n{node}",
                "--data-dir",
                str(plan.data_dir),
                "--listen-client-urls",
                client,
                "--advertise-client-urls",
                client,
                "--listen-peer-urls",
                f"http://{plan.peer_listen}",
                "--initial-advertise-peer-urls",
                urls[node],
                "--initial-cluster",
                ",".join(f"n{n}={url}" for n, url in sorted(urls.items())),
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                plan.cluster_token,
                "--heartbeat-interval",
                str(plan.timing.heartbeat_ms),
                "--election-timeout",
                str(plan.timing.election_ms),
                "--logger",
                "zap",
                "--log-level",
                "info",
            ],
            # No proxy settings of the caller's environment may reroute peer traffic.
            env={"no_proxy": "*", "NO_PROXY": "*"},
        )

    # ---- status -----------------------------------------------------------------------

    def _loop(self) -> LoopThread:
        if self._thread is None:
            self._thread = LoopThread("chaoslab-etcd-status")
        return self._thread

    def status(self, addresses: Mapping[NodeId, str], timeout_s: float) -> list[NodeState]:
        """Every member's view, asked at once (see the module docstring)."""

        async def ask_all() -> list[Any]:
            return list(
                await asyncio.gather(
                    *(self._status_of(addresses[n], timeout_s) for n in sorted(addresses))
                )
            )

        answers = self._loop().call(ask_all(), timeout_s * 4 + 2)
        for node, answer in zip(sorted(addresses), answers, strict=True):
            if answer is not None:
                self._ids[answer.header.member_id] = node
        return [
            self._state(node, answer, addresses[node], self._failures(addresses[node], answer))
            for node, answer in zip(sorted(addresses), answers, strict=True)
        ]

    def _failures(self, address: str, answer: Any) -> dict[NodeId, int]:
        """The member's own count of messages it failed to send to each peer (its
        ``etcd_network_peer_sent_failures_total``): the evidence of loss and cuts. Read at
        most every ``METRICS_EVERY_S`` per member (the page is ~150 KB)."""
        if answer is None:
            return {}
        now = time.monotonic()
        cached = self._metrics.get(address)
        if cached is not None and now - cached[0] < METRICS_EVERY_S:
            return cached[1]
        counts: dict[NodeId, int] = dict(cached[1]) if cached else {}
        try:
            with urllib.request.urlopen(f"http://{address}/metrics", timeout=1.0) as reply:
                page = reply.read().decode(errors="replace")
        except OSError:
            return counts
        counts |= sent_failures(page, self._ids)
        self._metrics[address] = (now, counts)
        return counts

    async def _status_of(self, address: str, timeout_s: float) -> Any:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.aio.insecure_channel(address)
        call = channel.unary_unary(
            "/etcdserverpb.Maintenance/Status",
            request_serializer=_serialize,
            response_deserializer=pb.StatusResponse.FromString,
        )
        try:
            return await call(pb.StatusRequest(), timeout=timeout_s)
        except grpc.aio.AioRpcError:
            return None

    def _state(
        self, node: NodeId, answer: Any, address: str, undelivered: Mapping[NodeId, int]
    ) -> NodeState:
        if answer is None:
            return NodeState(id=node, role="unreachable", address=address)
        own = answer.header.member_id
        role: Role = (
            "leader" if answer.leader == own else "follower" if answer.leader else "candidate"
        )
        return NodeState(
            id=node,
            role=role,
            term=answer.raft_term,
            leader=self._ids.get(answer.leader) if answer.leader else None,
            commit_index=answer.raft_index,
            address=address,
            undelivered=dict(undelivered),
        )

    def close(self) -> None:
        """Close the status channels and their loop."""
        if self._thread is None:
            return

        async def close_all() -> None:
            for channel in self._channels.values():
                with contextlib.suppress(Exception):
                    await channel.close()

        with contextlib.suppress(Exception):
            self._thread.call(close_all(), 5)
        self._channels.clear()
        self._thread.close()
        self._thread = None

    # ---- clients ----------------------------------------------------------------------

    def client(
        self, addresses: Mapping[NodeId, str], settings: ClientSettings, consistency: str
    ) -> EtcdClient:
        """A recorded client over the client proxies."""
        return EtcdClient(addresses, settings, serializable=consistency == "stale")


Invoke = Callable[[grpc.aio.Channel, float], Any]


class EtcdClient:
    """One recorded client process (``OpClient``): one channel per member it may use."""

    def __init__(
        self, addresses: Mapping[NodeId, str], settings: ClientSettings, *, serializable: bool
    ) -> None:
        self.settings = settings
        self.serializable = serializable
        self._addresses = dict(addresses)
        # etcd has no client sessions: a write that may have applied is never retried.
        policy = replace(
            settings.policy, retry=replace(settings.policy.retry, retry_unknown_writes=False)
        )
        listener = settings.on_breaker
        targets = [settings.home] if policy.routing == "home" else sorted(addresses)
        self._router: Router[NodeId] = Router(
            targets,
            policy,
            random.Random(settings.seed),
            home=settings.home,
            on_breaker=None
            if listener is None
            else (lambda node, state, _now: listener(node, state)),
        )
        self._channels: dict[NodeId, grpc.aio.Channel] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def invoke(self, request: OpRequest, done: Callable[[OpDone], None]) -> None:
        """Start ``request`` as a task on the running loop."""
        task = asyncio.get_running_loop().create_task(self._run(request, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Cancel what is outstanding and close the channels (on the running loop)."""
        for task in list(self._tasks):
            task.cancel()
        channels = list(self._channels.values())
        self._channels.clear()

        async def close_all() -> None:
            for channel in channels:
                with contextlib.suppress(Exception):
                    await channel.close()

        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(close_all())

    def _channel(self, node: NodeId) -> grpc.aio.Channel:
        channel = self._channels.get(node)
        if channel is None:
            channel = self._channels[node] = grpc.aio.insecure_channel(self._addresses[node])
        return channel

    async def _run(self, request: OpRequest, done: Callable[[OpDone], None]) -> None:
        if request.f == "read":
            kind, invoke = "read", self._read(request.key)
        elif request.f == "write":
            kind, invoke = "write", self._put(request.key, str(request.value))
        else:
            old, new = request.value
            kind, invoke = "write", self._cas(request.key, old, new)

        async def attempt(node: NodeId, timeout_s: float) -> Attempted[NodeId]:
            try:
                result: Attempted[NodeId] = await invoke(self._channel(node), timeout_s)
            except grpc.aio.AioRpcError as exc:
                return classify_error(exc)
            return result

        completion = await drive_operation(self._router, kind, attempt)  # type: ignore[arg-type]
        done(
            OpDone(
                type=completion.status,
                value=completion.value,
                error=completion.error,
                node=completion.target,
            )
        )

    def _read(self, key: str) -> Invoke:
        request = pb.RangeRequest(key=key.encode(), serializable=self.serializable)

        async def invoke(channel: grpc.aio.Channel, timeout_s: float) -> Attempted[NodeId]:
            call = channel.unary_unary(
                "/etcdserverpb.KV/Range",
                request_serializer=_serialize,
                response_deserializer=pb.RangeResponse.FromString,
            )
            reply = await call(request, timeout=timeout_s)
            return Attempted(result=Result.OK, value=_value(reply))

        return invoke

    def _put(self, key: str, value: str) -> Invoke:
        request = pb.PutRequest(key=key.encode(), value=value.encode())

        async def invoke(channel: grpc.aio.Channel, timeout_s: float) -> Attempted[NodeId]:
            call = channel.unary_unary(
                "/etcdserverpb.KV/Put",
                request_serializer=_serialize,
                response_deserializer=pb.PutResponse.FromString,
            )
            await call(request, timeout=timeout_s)
            return Attempted(result=Result.OK)

        return invoke

    def _cas(self, key: str, old: Any, new: Any) -> Invoke:
        raw = key.encode()
        if old is None:
            compare = pb.Compare(
                result=pb.Compare.EQUAL, target=pb.Compare.CREATE, key=raw, create_revision=0
            )
        else:
            compare = pb.Compare(
                result=pb.Compare.EQUAL,
                target=pb.Compare.VALUE,
                key=raw,
                value=str(old).encode(),
            )
        request = pb.TxnRequest(
            compare=[compare],
            success=[pb.RequestOp(request_put=pb.PutRequest(key=raw, value=str(new).encode()))],
            failure=[pb.RequestOp(request_range=pb.RangeRequest(key=raw))],
        )

        async def invoke(channel: grpc.aio.Channel, timeout_s: float) -> Attempted[NodeId]:
            call = channel.unary_unary(
                "/etcdserverpb.KV/Txn",
                request_serializer=_serialize,
                response_deserializer=pb.TxnResponse.FromString,
            )
            reply = await call(request, timeout=timeout_s)
            if reply.succeeded:
                return Attempted(result=Result.OK)
            current = None
            if reply.responses and reply.responses[0].HasField("response_range"):
                current = _value(reply.responses[0].response_range)
            return Attempted(result=Result.MISMATCH, value=current)

        return invoke


def sent_failures(page: str, members: Mapping[int, NodeId]) -> dict[NodeId, int]:
    """Failed sends per peer from a Prometheus ``/metrics`` page; ``members`` maps etcd
    member ids to node ids (peers etcd names by an id not in it are left out)."""
    by_hex = {f"{member:x}": node for member, node in members.items()}
    counts: dict[NodeId, int] = {}
    for line in page.splitlines():
        if not line.startswith(SENT_FAILURES):
            continue
        labels, _, value = line.rpartition(" ")
        peer = by_hex.get(labels.partition('To="')[2].partition('"')[0])
        if peer is not None:
            with contextlib.suppress(ValueError):
                counts[peer] = int(float(value))
    return counts


def _value(reply: Any) -> str | None:
    """The value a Range answer carries (None: the key does not exist)."""
    if not reply.kvs:
        return None
    data: bytes = reply.kvs[0].value
    return data.decode(errors="replace")


def classify_error(exc: grpc.aio.AioRpcError | grpc.RpcError) -> Attempted[NodeId]:
    """What a failed etcd call says about its effect (see the module docstring)."""
    code = exc.code()
    details = exc.details() or ""
    error = f"etcd: {code.name}: {details}"
    lowered = details.lower()
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return Attempted(result=Result.TIMEOUT, error=error)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return Attempted(result=Result.INVALID, error=error)
    if code is grpc.StatusCode.UNAVAILABLE and any(s in lowered for s in _NEVER_SENT):
        return Attempted(result=Result.UNREACHABLE, error=error)
    if any(s in lowered for s in _DEFINITE):
        return Attempted(result=Result.UNAVAILABLE, error=error)
    return Attempted(result=Result.UNKNOWN, error=error)
