"""The gRPC services of a node: client KV, peer (Raft messages) and admin.

Rules: translate between protobuf and the node, nothing more. Invalid client
input is INVALID_ARGUMENT with a readable message; every other outcome is a
``KvReply`` status that says honestly whether the command took effect
(OK/NOT_FOUND/MISMATCH), certainly did not (NOT_LEADER/UNAVAILABLE/
STALE_SEQUENCE/REJECTED) or may have (UNKNOWN). Every wait is bounded by the
caller's deadline (and ``MAX_WAIT_S``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn

import grpc
import structlog

from nodes.kv import (
    Cas,
    Command,
    Delete,
    Get,
    InvalidCommand,
    Mismatch,
    NotFound,
    Ok,
    Put,
    Rejected,
    StaleSequence,
)
from nodes.raft import NO_NODE, NotLeader, ProposalDropped, UnknownNode
from nodes.replica import Applied, NotApplied, ReadFailed
from nodes.rpc import CodecError, SnapshotAssembler, message_from_pb
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc
from nodes.server.config import MAX_PEER_MESSAGE_BYTES
from nodes.server.node import Node

_log = structlog.get_logger()

MAX_WAIT_S = 10.0
"""The longest a request waits for the cluster, whatever its deadline."""
DEFAULT_WAIT_S = 5.0
"""How long a request without a deadline waits."""
S = pb.KvReply.Status
Context = grpc.aio.ServicerContext[Any, Any]
Forward = Callable[["pb_grpc.KvAsyncStub", float], Awaitable[pb.KvReply]]
CONSISTENCIES = ("linearizable", "stale")


def _budget(context: Context) -> float:
    remaining = context.time_remaining()
    if remaining is None:
        return DEFAULT_WAIT_S
    # Answer a little before the caller gives up, so it gets a reply, not a timeout.
    return max(0.0, min(MAX_WAIT_S, float(remaining) * 0.9 - 0.01))


async def _invalid(context: Context, problem: str) -> NoReturn:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


def _session(client_id: str, seq: int) -> tuple[str | None, int | None]:
    return client_id or None, seq or None


class KvService(pb_grpc.KvServicer):
    """Get, Put, Delete and Cas for clients."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._forward: dict[str, pb_grpc.KvAsyncStub] = {}
        self._channels: list[grpc.aio.Channel] = []

    def _reply(self, status: pb.KvReply.Status.ValueType, **fields: object) -> pb.KvReply:
        node = self._node
        leader = node.leader_id
        return pb.KvReply(
            status=status,
            node_id=node.settings.id,
            leader_id=leader,
            leader_address=node.settings.client_address(leader) if leader else "",
            **fields,  # type: ignore[arg-type]
        )

    async def Get(self, request: pb.GetRequest, context: Context) -> pb.KvReply:
        """Read a key: linearizable (ReadIndex, default) or stale (UNSAFE, local)."""
        consistency = request.consistency or "linearizable"
        if consistency not in CONSISTENCIES:
            await _invalid(
                context,
                f"consistency {request.consistency!r} is unknown; expected one of "
                + ", ".join(CONSISTENCIES),
            )
        try:
            Get(key=request.key)
        except InvalidCommand as exc:
            await _invalid(context, str(exc))
        node = self._node
        if node.failed.is_set():
            return self._reply(S.UNAVAILABLE, error=f"node stopped: {node.failure}")
        if consistency == "stale":
            value = node.read_stale(request.key)
            return self._value_reply(value)
        try:
            future = node.read(request.key)
        except NotLeader as exc:
            return self._not_leader(exc)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(future), _budget(context))
        except TimeoutError:
            return self._reply(S.UNAVAILABLE, error="the read could not be confirmed in time")
        if isinstance(outcome, ReadFailed):
            return self._reply(S.UNAVAILABLE, error=outcome.reason)
        return self._value_reply(outcome.value)

    def _value_reply(self, value: str | None) -> pb.KvReply:
        if value is None:
            return self._reply(S.NOT_FOUND)
        return self._reply(S.OK, value=value)

    async def Put(self, request: pb.PutRequest, context: Context) -> pb.KvReply:
        """Set a key."""
        client_id, seq = _session(request.client_id, request.seq)
        return await self._write(
            lambda: Put(key=request.key, value=request.value, client_id=client_id, seq=seq),
            context,
            lambda stub, timeout: stub.Put(request, timeout=timeout),
        )

    async def Delete(self, request: pb.DeleteRequest, context: Context) -> pb.KvReply:
        """Remove a key."""
        client_id, seq = _session(request.client_id, request.seq)
        return await self._write(
            lambda: Delete(key=request.key, client_id=client_id, seq=seq),
            context,
            lambda stub, timeout: stub.Delete(request, timeout=timeout),
        )

    async def Cas(self, request: pb.CasRequest, context: Context) -> pb.KvReply:
        """Compare-and-set: write ``new`` only if the key holds ``expected``."""
        expected = request.expected if request.HasField("expected") else None
        client_id, seq = _session(request.client_id, request.seq)
        return await self._write(
            lambda: Cas(
                key=request.key, expected=expected, new=request.new, client_id=client_id, seq=seq
            ),
            context,
            lambda stub, timeout: stub.Cas(request, timeout=timeout),
        )

    async def _write(
        self,
        build: Callable[[], Command],
        context: Context,
        forward: Forward,
    ) -> pb.KvReply:
        try:
            command = build()
        except InvalidCommand as exc:
            await _invalid(context, str(exc))
        node = self._node
        if node.failed.is_set():
            return self._reply(S.UNAVAILABLE, error=f"node stopped: {node.failure}")
        try:
            future = node.propose(command)
        except NotLeader as exc:
            if node.settings.forward_writes and exc.leader_hint != NO_NODE:
                return await self._forward_to(exc.leader_hint, forward, context)
            return self._not_leader(exc)
        except ProposalDropped as exc:
            return self._reply(S.UNAVAILABLE, error=str(exc))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(future), _budget(context))
        except TimeoutError:
            return self._reply(
                S.UNKNOWN, error="deadline reached before the write committed; it may still"
            )
        if isinstance(outcome, NotApplied):
            return self._reply(S.UNAVAILABLE, error=f"not applied: {outcome.reason}")
        if not isinstance(outcome, Applied):
            return self._reply(S.UNKNOWN, error=outcome.reason)
        result = outcome.result
        if isinstance(result, Ok):
            return self._reply(S.OK, **({} if result.value is None else {"value": result.value}))
        if isinstance(result, NotFound):
            return self._reply(S.NOT_FOUND)
        if isinstance(result, Mismatch):
            extra = {} if result.current is None else {"value": result.current}
            return self._reply(S.MISMATCH, error="mismatch", **extra)
        if isinstance(result, StaleSequence):
            return self._reply(
                S.STALE_SEQUENCE, error=f"the session already applied seq {result.last_seq}"
            )
        if isinstance(result, Rejected):
            return self._reply(S.REJECTED, error=result.reason)
        return self._reply(S.OK)

    def _not_leader(self, exc: NotLeader) -> pb.KvReply:
        node = self._node
        hint = exc.leader_hint
        return pb.KvReply(
            status=S.NOT_LEADER,
            node_id=node.settings.id,
            leader_id=hint,
            leader_address=node.settings.client_address(hint) if hint else "",
            error=str(exc),
        )

    async def _forward_to(
        self,
        leader: int,
        forward: Forward,
        context: Context,
    ) -> pb.KvReply:
        address = self._node.settings.client_address(leader)
        stub = self._forward.get(address)
        if stub is None:
            channel = grpc.aio.insecure_channel(address)
            self._channels.append(channel)
            stub = self._forward[address] = pb_grpc.KvStub(channel)
        try:
            reply = await forward(stub, max(0.01, _budget(context)))
        except grpc.aio.AioRpcError as exc:
            return self._reply(
                S.UNKNOWN, error=f"forwarding to node {leader} failed: {exc.code().name}"
            )
        return reply

    async def close(self) -> None:
        """Close the forwarding channels."""
        for channel in self._channels:
            await channel.close(grace=None)


class PeerService(pb_grpc.PeerServicer):
    """Receives Raft messages from peers."""

    def __init__(self, node: Node) -> None:
        self._node = node

    async def Deliver(self, request: pb.MessageBatch, context: Context) -> pb.DeliverReply:
        """Step every message of the batch into the core."""
        node = self._node
        accepted = 0
        try:
            for encoded in request.messages:
                message = message_from_pb(encoded)
                if message.to != node.settings.id:
                    continue
                node.step(message)
                accepted += 1
        except CodecError as exc:
            await _invalid(context, str(exc))
        return pb.DeliverReply(accepted=accepted)

    async def InstallSnapshot(
        self,
        request_iterator: AsyncIterator[pb.SnapshotChunk],
        context: Context,
    ) -> pb.DeliverReply:
        """Reassemble a streamed snapshot and step it into the core."""
        assembler = SnapshotAssembler(max_bytes=16 * MAX_PEER_MESSAGE_BYTES)
        try:
            async for chunk in request_iterator:
                assembler.add(chunk)
            message = assembler.finish()
        except CodecError as exc:
            await _invalid(context, str(exc))
        if message.to != self._node.settings.id:
            return pb.DeliverReply(accepted=0)
        _log.info("snapshot_received", node=message.to, frm=message.frm)
        self._node.step(message)
        return pb.DeliverReply(accepted=1)


class AdminService(pb_grpc.AdminServicer):
    """Status, health and leadership transfer for operators."""

    def __init__(self, node: Node) -> None:
        self._node = node

    async def Status(self, request: pb.StatusRequest, context: Context) -> pb.StatusReply:
        """What this node knows: role, term, leader, indexes, peers."""
        node = self._node
        status = node.status()
        peers = []
        for peer, address in sorted(node.settings.peers.items()):
            match, next_index, state = status.progress.get(peer, (0, 0, ""))
            peers.append(
                pb.PeerInfo(
                    id=peer,
                    address=address,
                    match=match,
                    next=next_index,
                    state=state,
                    dropped=node.transport.dropped(peer),
                )
            )
        return pb.StatusReply(
            id=status.id,
            role=status.role,
            term=status.term,
            leader_id=status.leader_id,
            leader_address=status.leader_address,
            commit_index=status.commit_index,
            applied_index=status.applied_index,
            first_index=status.first_index,
            last_index=status.last_index,
            log_size=max(0, status.last_index - status.first_index + 1),
            peers=peers,
            address=node.settings.client_address(node.settings.id),
            snapshot_index=status.snapshot_index,
            unsafe_no_sync=node.settings.sync.value == "never",
        )

    async def Health(self, request: pb.HealthRequest, context: Context) -> pb.HealthReply:
        """Healthy: running, storage fine, and a leader is known."""
        node = self._node
        if node.failed.is_set():
            return pb.HealthReply(healthy=False, reason=f"stopped: {node.failure}")
        if node.leader_id == NO_NODE:
            return pb.HealthReply(healthy=False, reason="no leader known (election or no quorum)")
        return pb.HealthReply(healthy=True, reason=f"leader is node {node.leader_id}")

    async def TransferLeader(
        self, request: pb.TransferLeaderRequest, context: Context
    ) -> pb.TransferLeaderReply:
        """Ask the leader to hand leadership to ``to``."""
        try:
            self._node.transfer_leader(request.to)
        except UnknownNode as exc:
            await _invalid(context, str(exc))
        except NotLeader as exc:
            return pb.TransferLeaderReply(accepted=False, error=str(exc))
        return pb.TransferLeaderReply(accepted=True)
