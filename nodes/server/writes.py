"""The write path shared by the client service and the peer ``Forward`` call: check,
propose, wait, and say honestly what happened; or forward to the leader.

Rules: a write is checked whole before it is proposed (the KV limits, the client id's
size, the encoded command's size, and this node's backlog of writes waiting to commit),
so nothing oversized reaches the log; large commands are proposed one per event-loop
turn, so a burst of them never starves the node's ticker. Outcomes:
OK/NOT_FOUND/MISMATCH took effect; NOT_LEADER/UNAVAILABLE/STALE_SEQUENCE/REJECTED
certainly did not; UNKNOWN may have.
Forwarding (``--forward-writes``) goes over the peer link to the leader, one hop only
(the leader answers NOT_LEADER rather than forwarding again): a forward that fails
before it can have been sent is UNAVAILABLE, any other failure is UNKNOWN.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import structlog

from nodes.kv import (
    Cas,
    Command,
    Delete,
    InvalidCommand,
    KvResult,
    Mismatch,
    NotFound,
    Ok,
    Put,
    Rejected,
    StaleSequence,
)
from nodes.raft import NO_NODE, NotLeader, ProposalDropped
from nodes.replica import Applied, NotApplied
from nodes.rpc import chaoslab_pb2 as pb
from nodes.server.limits import MAX_CLIENT_ID_BYTES, MAX_COMMAND_BYTES, MAX_PENDING_WRITE_BYTES, MIB
from nodes.server.node import Node

_log = structlog.get_logger()
S = pb.KvReply.Status
HEAVY_COMMAND_BYTES = 64 * 1024
"""Commands at least this large are proposed one per event-loop turn."""
_REFUSED_BY_LEADER = {
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


_CONTROLS = "".join(chr(code) for code in range(32))
_DROP_CONTROLS = str.maketrans("", "", _CONTROLS)
_SHORT_ESCAPES = "\b\f\n\r\t"


def _json_bytes(value: str | int | None) -> int:
    """How many bytes ``value`` takes in the log's JSON (``ensure_ascii=False``)."""
    if value is None:
        return 4  # null
    if isinstance(value, int):
        return len(str(value))
    size = len(value.encode()) + 2 + value.count('"') + value.count("\\")
    if not value.isprintable():  # control characters are escaped (\n, or \u00XX)
        controls = len(value) - len(value.translate(_DROP_CONTROLS))
        short = sum(value.count(ch) for ch in _SHORT_ESCAPES)
        size += short + 5 * (controls - short)
    return size


def encoded_size(command: Command) -> int:
    """The size of ``encode_command(command)``, computed without encoding it (encoding a
    1 MiB value costs ~10 ms of the event loop; this costs well under one)."""
    fields: list[str | int | None]
    match command:
        case Put(key=key, value=value):
            fields = ["put", key, value]
        case Delete(key=key):
            fields = ["del", key]
        case Cas(key=key, expected=expected, new=new):
            fields = ["cas", key, expected, new]
        case _:
            fields = ["get", command.key]
    fields += [command.client_id, command.seq]
    # [1,f1,f2,...]: brackets, the version digit, and one comma per field
    return 3 + len(fields) + sum(_json_bytes(field) for field in fields)


def check_command(command: Command) -> int:
    """The encoded size of ``command``, once it is known to fit the log.

    Raises:
        InvalidCommand: the client id or the encoded command is too large.
    """
    if command.client_id is not None:
        size = len(command.client_id.encode())
        if size > MAX_CLIENT_ID_BYTES:
            msg = f"client_id is {size} bytes (UTF-8); the limit is {MAX_CLIENT_ID_BYTES} bytes"
            raise InvalidCommand(msg)
    encoded = encoded_size(command)
    if encoded > MAX_COMMAND_BYTES:
        msg = f"the command encodes to {encoded} bytes; the limit is {MAX_COMMAND_BYTES} bytes"
        raise InvalidCommand(msg)
    return encoded


def result_reply(reply: Callable[..., pb.KvReply], result: KvResult) -> pb.KvReply:
    """The reply for an applied command's result (``reply`` names the answering node)."""
    if isinstance(result, Ok):
        return reply(S.OK, **({} if result.value is None else {"value": result.value}))
    if isinstance(result, NotFound):
        return reply(S.NOT_FOUND)
    if isinstance(result, Mismatch):
        extra = {} if result.current is None else {"value": result.current}
        return reply(S.MISMATCH, error="mismatch", **extra)
    if isinstance(result, StaleSequence):
        return reply(S.STALE_SEQUENCE, error=f"the session already applied seq {result.last_seq}")
    if isinstance(result, Rejected):
        return reply(S.REJECTED, error=result.reason)
    return reply(S.OK)


def _never_sent(exc: grpc.aio.AioRpcError) -> bool:
    """Whether the forward certainly never reached the leader (connection refused)."""
    details = (exc.details() or "").lower()
    return exc.code() is grpc.StatusCode.UNAVAILABLE and (
        "connect" in details or "refused" in details
    )


class WritePath:
    """Proposes writes on ``node`` and maps their outcomes to replies.

    Args:
        node: the running node.
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self.pending_bytes = 0
        self._heavy = asyncio.Lock()

    def reply(self, status: pb.KvReply.Status.ValueType, **fields: object) -> pb.KvReply:
        """A reply from this node, naming the leader it knows."""
        node = self._node
        leader = node.leader_id
        return pb.KvReply(
            status=status,
            node_id=node.settings.id,
            leader_id=leader,
            leader_address=node.settings.client_address(leader) if leader else "",
            **fields,  # type: ignore[arg-type]
        )

    def not_leader(self, exc: NotLeader) -> pb.KvReply:
        """NOT_LEADER, pointing at the leader this node was told of."""
        node = self._node
        hint = exc.leader_hint
        return pb.KvReply(
            status=S.NOT_LEADER,
            node_id=node.settings.id,
            leader_id=hint,
            leader_address=node.settings.client_address(hint) if hint else "",
            error=str(exc),
        )

    async def write(
        self,
        command: Command,
        budget_s: float,
        *,
        forward: Callable[[], pb.ForwardRequest] | None = None,
    ) -> pb.KvReply:
        """Propose ``command`` and wait (at most ``budget_s``) for its outcome.

        Args:
            command: a validated command.
            budget_s: how long to wait for the cluster.
            forward: builds the request to hand to the leader when this node does not
                lead and forwarding is on (None: answer NOT_LEADER).

        Raises:
            InvalidCommand: the command does not fit the log (see ``check_command``).
        """
        size = check_command(command)
        node = self._node
        if node.failed.is_set():
            return self.reply(S.UNAVAILABLE, error=f"node stopped: {node.failure}")
        if self.pending_bytes + size > MAX_PENDING_WRITE_BYTES:
            waiting = self.pending_bytes / MIB
            return self.reply(
                S.UNAVAILABLE,
                error=f"this node has {waiting:.0f} MiB of writes waiting to commit; retry later",
            )
        try:
            if size < HEAVY_COMMAND_BYTES:
                future = node.propose(command)
            else:
                # Proposing encodes the command (~10 ms per MiB, on the event loop): one
                # large proposal per loop turn, so a burst of them cannot starve the
                # ticker and the Ready loop (the leader's heartbeats) for long.
                async with self._heavy:
                    future = node.propose(command)
                    await asyncio.sleep(0)
        except NotLeader as exc:
            if forward is not None and node.settings.forward_writes and exc.leader_hint != NO_NODE:
                return await self._forward(exc.leader_hint, forward(), budget_s)
            return self.not_leader(exc)
        except ProposalDropped as exc:
            return self.reply(S.UNAVAILABLE, error=str(exc))
        self.pending_bytes += size
        future.add_done_callback(lambda _: self._settled(size))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(future), budget_s)
        except TimeoutError:
            return self.reply(
                S.UNKNOWN, error="deadline reached before the write committed; it may still"
            )
        if isinstance(outcome, NotApplied):
            return self.reply(S.UNAVAILABLE, error=f"not applied: {outcome.reason}")
        if not isinstance(outcome, Applied):
            return self.reply(S.UNKNOWN, error=outcome.reason)
        return result_reply(self.reply, outcome.result)

    def _settled(self, size: int) -> None:
        self.pending_bytes -= size

    async def forward(
        self, leader: int, request: pb.ForwardRequest, budget_s: float
    ) -> pb.KvReply:
        """Hand ``request`` to the leader over the peer link and return its reply.

        Raises:
            InvalidCommand: the leader found the request invalid.
        """
        return await self._forward(leader, request, budget_s)

    async def _forward(
        self, leader: int, request: pb.ForwardRequest, budget_s: float
    ) -> pb.KvReply:
        node = self._node
        try:
            return await node.transport.forward(leader, request, max(0.01, budget_s))
        except KeyError:
            return self.reply(S.UNAVAILABLE, error=f"the leader, node {leader}, is not a peer")
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            where = f"forwarding to node {leader} failed: {code.name}: {exc.details()}"
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidCommand(where) from None
            if code in _REFUSED_BY_LEADER or _never_sent(exc):
                _log.warning(
                    "forward_refused", node=node.settings.id, leader=leader, code=code.name
                )
                return self.reply(S.UNAVAILABLE, error=where)
            return self.reply(S.UNKNOWN, error=where + " (the write may have been applied)")
