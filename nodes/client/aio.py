"""The asyncio client: leader discovery, redirects, retries within a deadline, sessions.

Rules: never raises for a cluster-side failure; every call returns an ``Outcome``
that is honest about whether the operation took effect. Only invalid input raises
(the KV errors of ``nodes.kv``, or ``InvalidRequest``). Writes carry a session
(client id + sequence number) taken from a pool, one operation per session at a
time, and keep the same sequence number across retries, so a retried write is
applied at most once. Retries back off exponentially with full jitter.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import grpc
import structlog

from nodes.client.outcome import (
    CONSISTENCIES,
    FailpointRequest,
    FailpointState,
    InvalidRequest,
    NodeView,
    Outcome,
    PeerView,
)
from nodes.client.policy import (
    NS_PER_S,
    Attempted,
    BreakerListener,
    BreakerPolicy,
    ClientPolicy,
    Completion,
    Finish,
    Result,
    RetryPolicy,
    Router,
    Routing,
    Target,
)
from nodes.kv import Cas, Delete, Get, Put
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc

_log = structlog.get_logger()
S = pb.KvReply.Status
_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 2000),
    ("grpc.keepalive_timeout_ms", 2000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
]

Invoke = Callable[["pb_grpc.KvAsyncStub", float, tuple[str, int] | None], Awaitable[pb.KvReply]]


@dataclass(slots=True)
class _Session:
    client_id: str
    next_seq: int = 1


def _never_sent(exc: grpc.aio.AioRpcError) -> bool:
    """Whether the call certainly never reached a server (the connection was refused)."""
    details = (exc.details() or "").lower()
    return exc.code() is grpc.StatusCode.UNAVAILABLE and (
        "connect" in details or "refused" in details
    )


class AsyncClient:
    """Talk to a chaoslab cluster from asyncio.

    Args:
        addresses: client addresses of the nodes (``HOST:PORT``).
        timeout_s: total deadline of one operation, retries included.
        attempt_timeout_s: the deadline of a single RPC.
        backoff_base_s: first back-off cap; doubles per attempt up to ``backoff_max_s``.
        backoff_max_s: largest back-off cap.
        seed: seeds the jitter and the choice of node (None: from the OS).
        client_id: prefix of the session ids (default: a random UUID; must be unique
            among the clients of a cluster, or their retried writes may be deduplicated).
        routing: ``any`` follows NOT_LEADER redirects and moves on after failures;
            ``home`` sends every attempt to ``home`` and never hops (the node forwards).
        home: the client's own node address (``home`` routing; default: the first).
        breaker: a per-node circuit breaker (None: none).
        on_breaker: told ``(address, state, now_ns)`` of every breaker state change.

    Raises:
        InvalidRequest: no addresses, a timeout that is not positive, or a bad policy.
    """

    def __init__(
        self,
        addresses: Sequence[str],
        *,
        timeout_s: float = 5.0,
        attempt_timeout_s: float = 1.0,
        backoff_base_s: float = 0.02,
        backoff_max_s: float = 0.5,
        seed: int | None = None,
        client_id: str | None = None,
        routing: Routing = "any",
        home: str | None = None,
        breaker: BreakerPolicy | None = None,
        on_breaker: BreakerListener | None = None,
    ) -> None:
        if not addresses:
            msg = "a client needs at least one node address"
            raise InvalidRequest(msg)
        self.addresses = tuple(addresses)
        self.timeout_s = timeout_s
        self.attempt_timeout_s = attempt_timeout_s
        policy = ClientPolicy(
            routing=routing,
            retry=RetryPolicy(
                timeout_s=timeout_s,
                attempt_timeout_s=attempt_timeout_s,
                backoff_base_s=backoff_base_s,
                backoff_max_s=backoff_max_s,
            ),
            breaker=breaker,
        )
        if routing == "home" and home is None:
            home = self.addresses[0]
        self._router: Router[str] = Router(
            self.addresses, policy, random.Random(seed), home=home, on_breaker=on_breaker
        )
        # Never from the seed: two clients with one seed must not share sessions.
        self._id = client_id or uuid.uuid4().hex[:16]
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._free: list[_Session] = []
        self._sessions = 0

    # ---- operations -----------------------------------------------------------

    async def get(self, key: str, consistency: str = "linearizable") -> Outcome[str | None]:
        """Read ``key`` (None when absent); reads may be served by any node.

        Raises:
            InvalidCommand: the key breaks a limit.
            InvalidRequest: unknown consistency.
        """
        Get(key=key)
        if consistency not in CONSISTENCIES:
            msg = f"consistency {consistency!r}: expected one of {', '.join(CONSISTENCIES)}"
            raise InvalidRequest(msg)
        request = pb.GetRequest(key=key, consistency=consistency)
        return await self._run("read", lambda stub, t, _s: stub.Get(request, timeout=t))

    async def put(self, key: str, value: str) -> Outcome[None]:
        """Set ``key`` to ``value``.

        Raises:
            InvalidCommand: the key or value breaks a limit.
        """
        Put(key=key, value=value)

        def invoke(
            stub: pb_grpc.KvAsyncStub, t: float, s: tuple[str, int] | None
        ) -> Awaitable[pb.KvReply]:
            cid, seq = s or ("", 0)
            return stub.Put(pb.PutRequest(key=key, value=value, client_id=cid, seq=seq), timeout=t)

        outcome = await self._run("write", invoke)
        return Outcome(status=outcome.status, value=None, error=outcome.error, node=outcome.node)

    async def delete(self, key: str) -> Outcome[None]:
        """Remove ``key`` (ok whether or not it existed).

        Raises:
            InvalidCommand: the key breaks a limit.
        """
        Delete(key=key)

        def invoke(
            stub: pb_grpc.KvAsyncStub, t: float, s: tuple[str, int] | None
        ) -> Awaitable[pb.KvReply]:
            cid, seq = s or ("", 0)
            return stub.Delete(pb.DeleteRequest(key=key, client_id=cid, seq=seq), timeout=t)

        outcome = await self._run("write", invoke)
        return Outcome(status=outcome.status, value=None, error=outcome.error, node=outcome.node)

    async def cas(self, key: str, old: str | None, new: str) -> Outcome[str | None]:
        """Set ``key`` to ``new`` if it holds ``old`` (None: if absent).

        A cas that found another value is ``fail`` with error ``"mismatch"`` and the
        value it found.

        Raises:
            InvalidCommand: the key or a value breaks a limit.
        """
        Cas(key=key, expected=old, new=new)

        def invoke(
            stub: pb_grpc.KvAsyncStub, t: float, s: tuple[str, int] | None
        ) -> Awaitable[pb.KvReply]:
            cid, seq = s or ("", 0)
            request = pb.CasRequest(key=key, new=new, client_id=cid, seq=seq)
            if old is not None:
                request.expected = old
            return stub.Cas(request, timeout=t)

        return await self._run("write", invoke)

    async def status(self, address: str) -> Outcome[NodeView | None]:
        """Ask one node for its status (one attempt, ``attempt_timeout_s``)."""
        stub = pb_grpc.AdminStub(self._channel(address))
        try:
            reply = await stub.Status(pb.StatusRequest(), timeout=self.attempt_timeout_s)
        except grpc.aio.AioRpcError as exc:
            return Outcome(status="fail", value=None, error=_describe(exc), node=address)
        return Outcome(status="ok", value=_node_view(reply), node=address)

    async def health(self, address: str) -> Outcome[bool]:
        """Ask one node whether it is healthy; ``error`` says why not."""
        stub = pb_grpc.AdminStub(self._channel(address))
        try:
            reply = await stub.Health(pb.HealthRequest(), timeout=self.attempt_timeout_s)
        except grpc.aio.AioRpcError as exc:
            return Outcome(status="fail", value=False, error=_describe(exc), node=address)
        status: Literal["ok", "fail"] = "ok" if reply.healthy else "fail"
        return Outcome(status=status, value=reply.healthy, error=reply.reason, node=address)

    async def transfer_leader(self, address: str, to: int) -> Outcome[None]:
        """Ask the node at ``address`` (or its leader) to hand leadership to node ``to``."""
        stub = pb_grpc.AdminStub(self._channel(address))
        try:
            reply = await stub.TransferLeader(
                pb.TransferLeaderRequest(to=to), timeout=self.attempt_timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            return Outcome(status="fail", value=None, error=_describe(exc), node=address)
        if not reply.accepted:
            return Outcome(status="fail", value=None, error=reply.error, node=address)
        return Outcome(status="ok", value=None, node=address)

    async def failpoint(
        self,
        address: str,
        request: FailpointRequest,
        metadata: Sequence[tuple[str, str]],
    ) -> Outcome[FailpointState | None]:
        """Put in-node faults in force on the node at ``address`` (one attempt).

        ``metadata`` must carry the cluster's peer token (``nodes.client.failpoint_metadata``);
        the node must run with ``--failpoints``.
        """
        message = pb.FailpointRequest(clock_reset=request.clock_reset,
                                      disk=request.disk or "",
                                      disk_delay_ms=request.disk_delay_ms)
        if request.clock_jump_ms is not None:
            message.clock_jump_ms = request.clock_jump_ms
        if request.clock_rate is not None:
            message.clock_rate = request.clock_rate
        stub = pb_grpc.AdminStub(self._channel(address))
        try:
            reply = await stub.Failpoint(message, timeout=self.attempt_timeout_s,
                                         metadata=tuple(metadata))
        except grpc.aio.AioRpcError as exc:
            return Outcome(status="fail", value=None, error=_describe(exc), node=address)
        state = FailpointState(clock_offset_ms=reply.clock_offset_ms, clock_rate=reply.clock_rate,
                               disk=reply.disk, disk_injected=reply.disk_injected)
        return Outcome(status="ok", value=state, node=address)

    async def close(self) -> None:
        """Close every channel."""
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close(grace=None)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- machinery -------------------------------------------------------------

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS)
            self._channels[address] = channel
        return channel

    def _take_session(self) -> _Session:
        if self._free:
            return self._free.pop()
        self._sessions += 1
        return _Session(client_id=f"{self._id}-{self._sessions}")

    async def _run(self, kind: Literal["read", "write"], invoke: Invoke) -> Outcome[str | None]:
        session = self._take_session() if kind == "write" else None
        try:
            key = None if session is None else (session.client_id, session.next_seq)
            return await self._attempts(kind, invoke, key)
        finally:
            if session is not None:
                session.next_seq += 1
                self._free.append(session)

    async def _attempts(
        self, kind: Literal["read", "write"], invoke: Invoke, session: tuple[str, int] | None
    ) -> Outcome[str | None]:
        """Run one operation's attempts as the shared policy decides (``nodes.client.policy``)."""

        async def attempt(address: str, timeout_s: float) -> Attempted[str]:
            stub = pb_grpc.KvStub(self._channel(address))
            try:
                reply = await invoke(stub, timeout_s, session)
            except grpc.aio.AioRpcError as exc:
                return _attempted_error(address, exc)
            return _attempted_reply(address, reply)

        done = await drive_operation(self._router, kind, attempt)
        return Outcome(status=done.status, value=done.value, error=done.error, node=done.target)


async def drive_operation(
    router: Router[Target],
    kind: Literal["read", "write"],
    attempt: Callable[[Target, float], Awaitable[Attempted[Target]]],
) -> Completion:
    """Drive one operation through ``router``'s policy on the running loop: ``attempt``
    sends to a target within a timeout (seconds) and says what came of it; back-offs are
    slept here. Any store's asyncio client can drive the shared policy with it."""
    loop = asyncio.get_running_loop()
    operation = router.begin(kind, _now_ns(loop))
    while True:
        step = operation.next(_now_ns(loop))
        if isinstance(step, Finish):
            return step.completion
        attempted = await attempt(step.target, step.timeout_ns / NS_PER_S)
        after = operation.record(step.target, attempted, _now_ns(loop))
        if isinstance(after, Finish):
            return after.completion
        if after.delay_ns > 0:
            await asyncio.sleep(after.delay_ns / NS_PER_S)


def _now_ns(loop: asyncio.AbstractEventLoop) -> int:
    return int(loop.time() * NS_PER_S)


_RESULTS = {
    S.OK: Result.OK,
    S.NOT_FOUND: Result.OK,
    S.MISMATCH: Result.MISMATCH,
    S.NOT_LEADER: Result.NOT_LEADER,
    S.UNAVAILABLE: Result.UNAVAILABLE,
    S.UNKNOWN: Result.UNKNOWN,
    S.STALE_SEQUENCE: Result.REJECTED,
    S.REJECTED: Result.REJECTED,
}


def _attempted_reply(address: str, reply: pb.KvReply) -> Attempted[str]:
    """What a reply means to the policy."""
    result = _RESULTS.get(reply.status, Result.UNKNOWN)
    value = reply.value if reply.HasField("value") else None
    if result in (Result.OK, Result.MISMATCH):
        return Attempted(result=result, value=value)
    error = f"{address}: {S.Name(reply.status).lower()}: {reply.error}"
    return Attempted(result=result, hint=reply.leader_address or None, error=error)


def _attempted_error(address: str, exc: grpc.aio.AioRpcError) -> Attempted[str]:
    """What a failed call means: never sent, refused as malformed, or unknown."""
    error = f"{address}: {_describe(exc)}"
    if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
        return Attempted(result=Result.INVALID, error=error)
    if _never_sent(exc):
        return Attempted(result=Result.UNREACHABLE, error=error)
    return Attempted(result=Result.TIMEOUT, error=error)


def _describe(exc: grpc.aio.AioRpcError) -> str:
    return f"{exc.code().name}: {exc.details()}"


def _node_view(reply: pb.StatusReply) -> NodeView:
    return NodeView(
        id=reply.id,
        address=reply.address,
        role=reply.role,
        term=reply.term,
        leader_id=reply.leader_id,
        leader_address=reply.leader_address,
        commit_index=reply.commit_index,
        applied_index=reply.applied_index,
        first_index=reply.first_index,
        last_index=reply.last_index,
        log_size=reply.log_size,
        snapshot_index=reply.snapshot_index,
        unsafe_no_sync=reply.unsafe_no_sync,
        consistency=reply.consistency or "cp",
        clock_offset_ms=reply.clock_offset_ms,
        clock_rate=reply.clock_rate or 1.0,
        clock_changes=reply.clock_changes,
        disk_fault=reply.disk_fault or "none",
        disk_injected=reply.disk_injected,
        failpoints=reply.failpoints,
        peers=tuple(
            PeerView(
                id=p.id,
                address=p.address,
                match=p.match,
                next=p.next,
                state=p.state,
                dropped=p.dropped,
            )
            for p in reply.peers
        ),
    )
