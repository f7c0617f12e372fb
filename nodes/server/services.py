"""The gRPC services of a node: client KV and admin (client listener), peer (peer listener).

Rules: translate between protobuf and the node, nothing more. Invalid client
input is INVALID_ARGUMENT with a readable message; every other outcome is a
``KvReply`` status that says honestly whether the command took effect
(OK/NOT_FOUND/MISMATCH), certainly did not (NOT_LEADER/UNAVAILABLE/
STALE_SEQUENCE/REJECTED) or may have (UNKNOWN); the write path is ``writes``.
Reads follow the node's consistency mode: ``cp`` ReadIndex; ``lease`` the leader's lease
(followers hand reads to the leader when forwarding is on); ``stale`` the local state;
``ap`` is served by ``ApKvService`` over the node's own replica. The admin failpoint
call needs the cluster's peer token and ``--failpoints`` (``failpoints``).
Peer calls reach this module only authenticated (``auth``); each is checked whole
by ``guard`` before anything of it is stepped into the core: INVALID_ARGUMENT for
content that breaks a rule, PERMISSION_DENIED for another cluster's call. Every
wait is bounded by the caller's deadline (and ``MAX_WAIT_S``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

import grpc
import structlog

from nodes.kv import READ_CONSISTENCIES, Cas, Command, Delete, Get, InvalidCommand, Put
from nodes.raft import NO_NODE, Message, NotLeader, UnknownNode
from nodes.replica import ReadFailed
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc
from nodes.server.ap_node import ApNode, NodeStopped
from nodes.server.auth import PeerCredentials
from nodes.server.config import Consistency
from nodes.server.failpoints import FailpointRefused, Failpoints
from nodes.server.guard import PeerGuard, PeerRefused, Refusal
from nodes.server.limits import DEFAULT_WAIT_S, MAX_WAIT_S
from nodes.server.node import Node
from nodes.server.spool import SnapshotSpool, SpoolBusy, SpoolError, SpoolTooLarge
from nodes.server.writes import WritePath, check_command, result_reply

_log = structlog.get_logger()

S = pb.KvReply.Status
Context = grpc.aio.ServicerContext[Any, Any]


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


def _refusal_code(exc: PeerRefused) -> grpc.StatusCode:
    if exc.reason is Refusal.OTHER_CLUSTER:
        return grpc.StatusCode.PERMISSION_DENIED
    return grpc.StatusCode.INVALID_ARGUMENT


async def _refused(context: Context, exc: PeerRefused) -> NoReturn:
    code = _refusal_code(exc)
    _log.warning("peer_call_refused", code=code.name, reason=str(exc))
    await context.abort(code, str(exc))
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


def command_of(request: pb.PutRequest | pb.DeleteRequest | pb.CasRequest) -> Command:
    """The KV command a client write request asks for.

    Raises:
        InvalidCommand: it breaks a KV rule.
    """
    client_id, seq = _session(request.client_id, request.seq)
    if isinstance(request, pb.PutRequest):
        return Put(key=request.key, value=request.value, client_id=client_id, seq=seq)
    if isinstance(request, pb.DeleteRequest):
        return Delete(key=request.key, client_id=client_id, seq=seq)
    expected = request.expected if request.HasField("expected") else None
    return Cas(key=request.key, expected=expected, new=request.new, client_id=client_id, seq=seq)


def value_reply(reply: Callable[..., pb.KvReply], value: str | None) -> pb.KvReply:
    """OK with the value, or NOT_FOUND."""
    if value is None:
        return reply(S.NOT_FOUND)
    return reply(S.OK, value=value)


async def read_reply(node: Node, writes: WritePath, key: str, budget_s: float) -> pb.KvReply:
    """A read through ``Node.read`` (ReadIndex, or the lease), waited for at most
    ``budget_s``."""
    try:
        future = node.read(key)
    except NotLeader as exc:
        return writes.not_leader(exc)
    try:
        outcome = await asyncio.wait_for(asyncio.shield(future), budget_s)
    except TimeoutError:
        return writes.reply(S.UNAVAILABLE, error="the read could not be confirmed in time")
    if isinstance(outcome, ReadFailed):
        return writes.reply(S.UNAVAILABLE, error=outcome.reason)
    return value_reply(writes.reply, outcome.value)


async def _checked_get(request: pb.GetRequest, context: Context) -> str:
    """The read's consistency ("linearizable" when unset); INVALID_ARGUMENT for an unknown
    one or a bad key."""
    consistency = request.consistency or "linearizable"
    if consistency not in READ_CONSISTENCIES:
        await _invalid(
            context,
            f"consistency {request.consistency[:40]!r} is unknown; expected one of "
            + ", ".join(READ_CONSISTENCIES),
        )
    try:
        Get(key=request.key)
    except InvalidCommand as exc:
        await _invalid(context, str(exc))
    return consistency


class KvService(pb_grpc.KvServicer):
    """Get, Put, Delete and Cas for clients.

    Args:
        node: the running node.
        writes: the write path (shared with the peer service's ``Forward``).
    """

    def __init__(self, node: Node, writes: WritePath) -> None:
        self._node = node
        self._writes = writes

    async def Get(self, request: pb.GetRequest, context: Context) -> pb.KvReply:
        """Read a key: linearizable (ReadIndex, default) or stale (UNSAFE, local)."""
        consistency = await _checked_get(request, context)
        node = self._node
        reply = self._writes.reply
        if node.failed.is_set():
            return reply(S.UNAVAILABLE, error=f"node stopped: {node.failure}")
        mode = node.settings.consistency
        if consistency == "stale" or mode is Consistency.STALE:
            return self._value_reply(node.read_stale(request.key))
        leader = node.leader_id
        if (
            mode is Consistency.LEASE
            and not node.leads
            and node.settings.forward_writes
            and leader not in (NO_NODE, node.settings.id)
        ):
            return await self._forward_read(leader, request, _budget(context))
        return await read_reply(node, self._writes, request.key, _budget(context))

    async def _forward_read(
        self, leader: int, request: pb.GetRequest, budget_s: float
    ) -> pb.KvReply:
        """lease mode: the leader answers from its lease (a read has no effect, so a
        forward that may have arrived is just unavailable, never unknown)."""
        settings = self._node.settings
        wrapped = pb.ForwardRequest(cluster_id=settings.cluster_id, sender=settings.id,
                                    get=request)
        answer = await self._writes.forward(leader, wrapped, budget_s)
        if answer.status == S.UNKNOWN:
            return self._writes.reply(S.UNAVAILABLE, error=answer.error)
        return answer

    def _value_reply(self, value: str | None) -> pb.KvReply:
        return value_reply(self._writes.reply, value)

    async def Put(self, request: pb.PutRequest, context: Context) -> pb.KvReply:
        """Set a key."""
        return await self._write(request, context, lambda: pb.ForwardRequest(put=request))

    async def Delete(self, request: pb.DeleteRequest, context: Context) -> pb.KvReply:
        """Remove a key."""
        return await self._write(request, context, lambda: pb.ForwardRequest(delete=request))

    async def Cas(self, request: pb.CasRequest, context: Context) -> pb.KvReply:
        """Compare-and-set: write ``new`` only if the key holds ``expected``."""
        return await self._write(request, context, lambda: pb.ForwardRequest(cas=request))

    async def _write(
        self,
        request: pb.PutRequest | pb.DeleteRequest | pb.CasRequest,
        context: Context,
        wrap: Callable[[], pb.ForwardRequest],
    ) -> pb.KvReply:
        settings = self._node.settings

        def forward() -> pb.ForwardRequest:
            wrapped = wrap()  # built only when forwarding: it copies the request
            wrapped.cluster_id = settings.cluster_id
            wrapped.sender = settings.id
            return wrapped

        try:
            return await self._writes.write(command_of(request), _budget(context), forward=forward)
        except InvalidCommand as exc:
            await _invalid(context, str(exc))


class PeerService(pb_grpc.PeerServicer):
    """Raft messages, snapshots and forwarded writes (Raft modes), or the ap mode's
    anti-entropy (``Sync``), from authenticated peers; each refused by a node of the other
    kind (FAILED_PRECONDITION).

    Args:
        node: the running node.
        writes: the write path (``Forward`` proposes here, never forwards again); None on
            an ap node.
        spool: where incoming snapshots are streamed.
    """

    def __init__(
        self, node: Node | ApNode, writes: WritePath | None, spool: SnapshotSpool
    ) -> None:
        self._any = node
        self._writes_or_none = writes
        self._spool = spool
        settings = node.settings
        self._guard = PeerGuard(settings.id, settings.voters, settings.cluster_id)

    async def _raft(self, context: Context) -> tuple[Node, WritePath]:
        """This node's Raft side; FAILED_PRECONDITION on an ap node (no Raft there)."""
        node, writes = self._any, self._writes_or_none
        if isinstance(node, Node) and writes is not None:
            return node, writes
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                            "this node runs the ap consistency mode: it has no Raft")
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    async def _step_batch(self, node: Node, request: pb.MessageBatch, context: Context) -> int:
        """Check a whole batch (a refusal aborts the call), then step it in order."""
        try:
            messages = self._guard.batch(request)
        except PeerRefused as exc:
            await _refused(context, exc)
        for message in messages:
            node.step(message)
        return len(messages)

    async def Deliver(self, request: pb.MessageBatch, context: Context) -> pb.DeliverReply:
        """Check the whole batch, then step every message into the core."""
        node, _ = await self._raft(context)
        return pb.DeliverReply(accepted=await self._step_batch(node, request, context))

    async def Stream(
        self, request_iterator: AsyncIterator[pb.MessageBatch], context: Context
    ) -> pb.DeliverReply:
        """``Deliver`` on one long-lived call: each batch checked whole, then stepped in
        order; the first refused batch ends the stream with the refusal."""
        node, _ = await self._raft(context)
        accepted = 0
        async for request in request_iterator:
            accepted += await self._step_batch(node, request, context)
        return pb.DeliverReply(accepted=accepted)

    async def Sync(self, request: pb.SyncRequest, context: Context) -> pb.SyncReply:
        """ap mode: merge a peer's versions durably, then acknowledge them."""
        node = self._any
        if not isinstance(node, ApNode):
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                "this node runs a Raft consistency mode, not ap")
            raise AssertionError("unreachable: abort raises")  # pragma: no cover
        try:
            versions = self._guard.sync(request)
        except PeerRefused as exc:
            await _refused(context, exc)
        try:
            merged = await node.receive(versions)
        except NodeStopped as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"node stopped: {exc}")
        return pb.SyncReply(merged=merged)

    async def InstallSnapshot(
        self,
        request_iterator: AsyncIterator[pb.SnapshotChunk],
        context: Context,
    ) -> pb.DeliverReply:
        """Stream a snapshot to disk, check it whole, then step it into the core."""
        node, _ = await self._raft(context)
        try:
            message = await self._receive_snapshot(request_iterator)
        except PeerRefused as exc:
            code, details = _refusal_code(exc), str(exc)
        except (SpoolBusy, SpoolTooLarge) as exc:
            code, details = grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
        except SpoolError as exc:
            code, details = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        else:
            snapshot = message.snapshot
            _log.info(
                "snapshot_received",
                node=message.to,
                frm=message.frm,
                index=snapshot.meta.index if snapshot else 0,
                bytes=len(snapshot.data) if snapshot else 0,
            )
            node.step(message)
            return pb.DeliverReply(accepted=1)
        # Abort outside the except clauses: the refused snapshot (hundreds of MiB) must not
        # stay reachable from the abort's exception context.
        _log.warning("peer_call_refused", code=code.name, reason=details)
        await context.abort(code, details)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    async def _receive_snapshot(self, chunks: AsyncIterator[pb.SnapshotChunk]) -> Message:
        guard = self._guard

        def check_header(first: pb.SnapshotChunk) -> None:
            guard.check_call(first.cluster_id, first.header.frm)
            guard.message(first.header, first.header.frm, snapshot_data=b"")

        with self._spool.slot():
            first, data = await self._spool.receive(chunks, check_header)
            message = guard.message(first.header, first.header.frm, snapshot_data=data)
            await asyncio.to_thread(guard.snapshot, message)
        return message

    async def Forward(self, request: pb.ForwardRequest, context: Context) -> pb.KvReply:
        """A follower's client write (lease mode: or read): serve it here (one hop: never
        forwarded again)."""
        node, writes = await self._raft(context)
        try:
            self._guard.check_call(request.cluster_id, request.sender)
        except PeerRefused as exc:
            await _refused(context, exc)
        which = request.WhichOneof("request")
        if which is None:
            await _invalid(context, "a forwarded write carries no put, delete or cas")
        if which == "get":
            if node.settings.consistency is not Consistency.LEASE:
                await _invalid(context, "reads are forwarded only in the lease mode")
            try:
                Get(key=request.get.key)
            except InvalidCommand as exc:
                await _invalid(context, str(exc))
            if node.failed.is_set():
                return writes.reply(S.UNAVAILABLE, error=f"node stopped: {node.failure}")
            return await read_reply(node, writes, request.get.key, _budget(context))
        inner: pb.PutRequest | pb.DeleteRequest | pb.CasRequest = getattr(request, which)
        try:
            return await writes.write(command_of(inner), _budget(context))
        except InvalidCommand as exc:
            await _invalid(context, str(exc))


class AdminService(pb_grpc.AdminServicer):
    """Status, health, leadership transfer and failpoints for operators.

    Args:
        node: the running node (a Raft one, or an ap one).
        failpoints: the node's clock and disk switches (None: a node built without them).
        credentials: the cluster's peer credentials (the failpoint call must carry the token).
    """

    def __init__(
        self,
        node: Node | ApNode,
        failpoints: Failpoints | None = None,
        credentials: PeerCredentials | None = None,
    ) -> None:
        self._node = node
        self._failpoints = failpoints
        self._credentials = credentials

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
                    dropped=node.dropped(peer),
                )
            )
        clock = node.clock
        disk = None if self._failpoints is None else self._failpoints.disk
        return pb.StatusReply(
            consistency=node.settings.consistency.value,
            clock_offset_ms=round(clock.offset / 1_000_000),
            clock_rate=clock.rate,
            clock_changes=clock.jumps,
            disk_fault="none" if disk is None else disk.describe(),
            disk_injected=0 if disk is None else disk.injected,
            failpoints=self._failpoints is not None and self._failpoints.enabled,
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
        """Healthy: running, storage fine, and a leader is known (ap: running)."""
        healthy, reason = self._node.health()
        return pb.HealthReply(healthy=healthy, reason=reason)

    async def TransferLeader(
        self, request: pb.TransferLeaderRequest, context: Context
    ) -> pb.TransferLeaderReply:
        """Ask the leader to hand leadership to ``to``."""
        node = self._node
        if isinstance(node, ApNode):
            return pb.TransferLeaderReply(accepted=False,
                                          error="the ap consistency mode has no leader")
        try:
            node.transfer_leader(request.to)
        except UnknownNode as exc:
            await _invalid(context, str(exc))
        except NotLeader as exc:
            return pb.TransferLeaderReply(accepted=False, error=str(exc))
        return pb.TransferLeaderReply(accepted=True)

    async def Failpoint(
        self, request: pb.FailpointRequest, context: Context
    ) -> pb.FailpointReply:
        """In-node faults (clock, disk): the cluster's token and ``--failpoints`` required."""
        credentials = self._credentials
        offered = [(str(k), v) for k, v in (context.invocation_metadata() or ())]
        if credentials is None or not credentials.accepts(offered):
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "the failpoint call needs this cluster's peer token (see --peer-secret-file)",
            )
        failpoints = self._failpoints
        if failpoints is None or not failpoints.enabled:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                "failpoints are off on this node (start it with --failpoints)",
            )
            raise AssertionError("unreachable: abort raises")  # pragma: no cover
        try:
            return failpoints.apply(request)
        except FailpointRefused as exc:
            await _invalid(context, str(exc))


class ApKvService(pb_grpc.KvServicer):
    """Get, Put, Delete and Cas of the ap mode: answered by this replica alone (UNSAFE).

    Args:
        node: the running ap node.
    """

    def __init__(self, node: ApNode) -> None:
        self._node = node

    def reply(self, status: pb.KvReply.Status.ValueType, **fields: object) -> pb.KvReply:
        """A reply from this node (an ap cluster has no leader to name)."""
        return pb.KvReply(status=status, node_id=self._node.settings.id,
                          **fields)  # type: ignore[arg-type]

    async def Get(self, request: pb.GetRequest, context: Context) -> pb.KvReply:
        """This replica's value, whatever consistency was asked for."""
        await _checked_get(request, context)
        node = self._node
        if node.failed.is_set():
            return self.reply(S.UNAVAILABLE, error=f"node stopped: {node.failure}")
        return value_reply(self.reply, node.read(request.key))

    async def Put(self, request: pb.PutRequest, context: Context) -> pb.KvReply:
        """Set a key on this replica."""
        return await self._write(request, context)

    async def Delete(self, request: pb.DeleteRequest, context: Context) -> pb.KvReply:
        """Delete a key on this replica (a tombstone that replicates)."""
        return await self._write(request, context)

    async def Cas(self, request: pb.CasRequest, context: Context) -> pb.KvReply:
        """Compare-and-set against this replica's value (not atomic cluster-wide)."""
        return await self._write(request, context)

    async def _write(
        self, request: pb.PutRequest | pb.DeleteRequest | pb.CasRequest, context: Context
    ) -> pb.KvReply:
        try:
            command = command_of(request)
            check_command(command)
        except InvalidCommand as exc:
            await _invalid(context, str(exc))
        try:
            result = await self._node.execute(command)
        except NodeStopped as exc:
            return self.reply(S.UNAVAILABLE, error=f"node stopped: {exc}")
        return result_reply(self.reply, result)
