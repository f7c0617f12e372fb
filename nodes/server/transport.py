"""Send Raft messages to peers over gRPC: one channel and one sender task per peer lane.

Rules: sending never blocks the node. ``send`` puts messages on one of two queues per
peer (appends with entries and snapshots on the bulk lane, everything else on the
control lane, each lane on a connection of its own), each bounded in count and in
bytes, and drops them when it is full (Raft retransmits whatever was lost). Each
lane's sender task drains it into batches of at most ``MAX_PEER_BATCH_MESSAGES``
messages and ``MAX_PEER_BATCH_BYTES`` bytes, so a batch of large appends never passes
the receiver's message limit, and heartbeats never wait behind appends. Batches go
over one long-lived client-streaming ``Stream`` call per lane (a write costs about a
fifth of a unary call's CPU); a write that fails or does not complete within the
lane's deadline drops its batch and ends the call, and the next batch opens a new
one. Snapshots go through the chunked ``InstallSnapshot`` stream.
Every call carries the cluster's peer token and id (``auth``), over mutual TLS when
configured. Forwarded client writes (and lease-mode reads) and the ``ap`` mode's
anti-entropy use the control connection, hence the same link proxy: a partition that
cuts a link cuts them too. Channels use gRPC
keepalive, so a connection blackholed by a partition is declared dead within about
``2 * keepalive`` and re-established once the peer answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import grpc
import structlog

from nodes.raft import Message, MessageType, NodeId
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc
from nodes.rpc import message_to_pb, snapshot_chunks
from nodes.server.auth import PeerCredentials
from nodes.server.config import NodeSettings
from nodes.server.limits import (
    MAX_PEER_BATCH_BYTES,
    MAX_PEER_BATCH_MESSAGES,
    MAX_PEER_MESSAGE_BYTES,
    MAX_PEER_QUEUE_BYTES,
    MIB,
)

_log = structlog.get_logger()

MAX_BATCH = MAX_PEER_BATCH_MESSAGES
"""At most this many messages in one batch."""
MESSAGE_OVERHEAD_BYTES = 64
"""Estimated protobuf bytes of a message (and of an entry) beyond its payloads."""
SECONDS_PER_MIB = 0.25
"""Extra deadline a batch's write gets per MiB it carries (a slow link is not a dead one)."""


def keepalive_options(keepalive_ms: int) -> list[tuple[str, int]]:
    """Client-side channel options: ping every ``keepalive_ms``, fail a silent peer fast."""
    return [
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", keepalive_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
    ]


def message_bytes(message: Message) -> int:
    """An estimate (from above) of a message's encoded size."""
    size = MESSAGE_OVERHEAD_BYTES + len(message.context)
    for entry in message.entries:
        size += MESSAGE_OVERHEAD_BYTES + len(entry.data)
    if message.snapshot is not None:
        size += len(message.snapshot.data)
    return size


class Lane:
    """One queue of messages to a peer, bounded in count and bytes, drained in batches."""

    def __init__(self, name: str, *, size: int, max_bytes: int) -> None:
        self.name = name
        self.dropped = 0
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=size)
        self._max_bytes = max_bytes
        self._bytes = 0
        self._carry: Message | None = None

    def offer(self, message: Message) -> None:
        size = message_bytes(message)
        if self._bytes + size > self._max_bytes and not self._queue.empty():
            self.dropped += 1
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            return
        self._bytes += size

    async def next_batch(self) -> list[Message]:
        """The next batch: within the count and byte caps, never empty."""
        if self._carry is not None:
            first, self._carry = self._carry, None
        else:
            first = await self._queue.get()
            self._bytes -= message_bytes(first)
        batch = [first]
        size = message_bytes(first)
        while len(batch) < MAX_BATCH and not self._queue.empty():
            message = self._queue.get_nowait()
            self._bytes -= message_bytes(message)
            size += message_bytes(message)
            if size > MAX_PEER_BATCH_BYTES:
                self._carry = message
                break
            batch.append(message)
        return batch


def _channel(
    address: str, credentials: PeerCredentials, options: list[tuple[str, Any]]
) -> grpc.aio.Channel:
    """A channel of its own (a distinct option keeps gRPC from sharing its connection)."""
    if credentials.tls is None:
        return grpc.aio.insecure_channel(address, options=options)
    return grpc.aio.secure_channel(
        address,
        credentials.tls.channel_credentials(),
        options=[*options, *credentials.tls.channel_options()],
    )


def is_bulk(message: Message) -> bool:
    """Appends with entries and snapshots: the messages that can be large."""
    return message.type is MessageType.SNAP or bool(message.entries)


class _PeerSender:
    """The two lanes of one peer, each with its own connection and sender task.

    As etcd's rafthttp keeps appends on a connection of their own, heartbeats, votes
    and responses (the control lane) never wait behind megabytes of appends (the bulk
    lane): not in a queue, not in a TCP buffer, not in a proxy. Raft tolerates the
    reordering between the lanes.
    """

    def __init__(
        self,
        node_id: NodeId,
        peer: NodeId,
        address: str,
        *,
        credentials: PeerCredentials,
        queue_size: int,
        queue_bytes: int,
        timeout_s: float,
        options: list[tuple[str, Any]],
    ) -> None:
        self.peer = peer
        self.address = address
        self.sent = 0
        self._node_id = node_id
        self._credentials = credentials
        self._metadata = credentials.metadata(node_id)
        self._timeout_s = timeout_s
        self._control = Lane("control", size=queue_size, max_bytes=queue_bytes)
        self._bulk = Lane("bulk", size=queue_size, max_bytes=queue_bytes)
        self._channels = {
            lane.name: _channel(address, credentials, [*options, ("chaoslab.lane", lane.name)])
            for lane in (self._control, self._bulk)
        }
        self._stubs = {name: pb_grpc.PeerStub(channel) for name, channel in self._channels.items()}
        self.stub = self._stubs["control"]
        """The control connection's stub (small calls: forwarded writes)."""
        self._streams: dict[str, Any] = {}
        """Lane name → its open ``Stream`` call (a grpc.aio StreamUnaryCall)."""
        self._tasks: list[asyncio.Task[None]] = []
        self._healthy = True
        self._log = _log.bind(node=node_id, peer=peer, address=address)

    @property
    def dropped(self) -> int:
        """Messages dropped (queue full, or their call failed)."""
        return self._control.dropped + self._bulk.dropped

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """What every call to this peer carries (token, cluster, sender)."""
        return self._metadata

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(lane), name=f"peer-{lane.name}-{self.peer}")
            for lane in (self._control, self._bulk)
        ]

    def offer(self, message: Message) -> None:
        (self._bulk if is_bulk(message) else self._control).offer(message)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for call in self._streams.values():
            call.cancel()
        self._streams.clear()
        for channel in self._channels.values():
            await channel.close(grace=None)

    async def _run(self, lane: Lane) -> None:
        while True:
            batch = await lane.next_batch()
            snaps = [m for m in batch if m.type is MessageType.SNAP]
            plain = [m for m in batch if m.type is not MessageType.SNAP]
            ok = True
            if plain:
                ok = await self._deliver(plain, lane)
            for snap in snaps:
                ok = await self._install(snap, lane) and ok
            if lane is self._control and ok != self._healthy:
                self._healthy = ok
                self._log.info("peer_link_changed", reachable=ok)
            if not ok:
                # Back off a little; messages queued meanwhile may be dropped.
                await asyncio.sleep(min(0.1, self._timeout_s))

    def _stream(self, lane: Lane) -> Any:
        """The lane's open ``Stream`` call, opened now if it has none (or it ended)."""
        call = self._streams.get(lane.name)
        if call is None or call.done():
            call = self._stubs[lane.name].Stream(metadata=self._metadata)
            self._streams[lane.name] = call
        return call

    def _end_stream(self, lane: Lane) -> None:
        call = self._streams.pop(lane.name, None)
        if call is not None:
            call.cancel()

    async def _deliver(self, messages: list[Message], lane: Lane) -> bool:
        request = pb.MessageBatch(
            sender=self._node_id,
            cluster_id=self._credentials.cluster_id,
            messages=[message_to_pb(m) for m in messages],
        )
        size = sum(message_bytes(m) for m in messages)
        timeout = self._timeout_s + SECONDS_PER_MIB * size / MIB
        call = self._stream(lane)
        try:
            async with asyncio.timeout(timeout):
                await call.write(request)
        except grpc.aio.AioRpcError as exc:
            # The call ended (the peer is gone, or it refused us): a new one next time.
            self._end_stream(lane)
            lane.dropped += len(messages)
            self._log.debug(
                "peer_send_failed", lane=lane.name, code=exc.code().name, dropped=len(messages)
            )
            if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                self._log.warning("peer_refused_us", code=exc.code().name, reason=exc.details())
            return False
        except (TimeoutError, asyncio.InvalidStateError) as exc:
            # Flow control held the write back that long (the peer is not reading), or the
            # call ended cleanly between our check and the write: a new call next time.
            self._end_stream(lane)
            lane.dropped += len(messages)
            code = "TIMEOUT" if isinstance(exc, TimeoutError) else "ENDED"
            self._log.debug("peer_send_failed", lane=lane.name, code=code,
                            dropped=len(messages))
            return False
        self.sent += len(messages)
        return True

    async def _install(self, message: Message, lane: Lane) -> bool:
        chunks = snapshot_chunks(message)

        def with_cluster() -> Any:
            for number, chunk in enumerate(chunks):
                if number == 0:
                    chunk.cluster_id = self._credentials.cluster_id
                yield chunk

        size = message_bytes(message)
        timeout = max(self._timeout_s, 10.0) + SECONDS_PER_MIB * size / MIB
        try:
            await self._stubs[lane.name].InstallSnapshot(
                with_cluster(), timeout=timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            lane.dropped += 1
            self._log.info("snapshot_send_failed", code=exc.code().name, reason=exc.details())
            return False
        self.sent += 1
        self._log.info(
            "snapshot_sent", index=message.snapshot.meta.index if message.snapshot else 0
        )
        return True


class PeerTransport:
    """Fire-and-forget delivery of Raft messages to every peer, plus write forwarding.

    Args:
        node_id: this node's id (the sender).
        peers: peer id → the address this node sends to (its peer listener, or a proxy).
        credentials: the cluster id, peer token and TLS material every call carries.
        queue_size: per-peer queue bound in messages; messages beyond it are dropped.
        queue_bytes: per-peer queue bound in (estimated) bytes.
        timeout_s: base deadline of each batch's write (and of a snapshot's call).
        keepalive_ms: keepalive ping interval (and timeout) of each channel.
    """

    def __init__(
        self,
        node_id: NodeId,
        peers: Mapping[NodeId, str],
        *,
        credentials: PeerCredentials | None = None,
        queue_size: int = 4096,
        queue_bytes: int = MAX_PEER_QUEUE_BYTES,
        timeout_s: float = 1.0,
        keepalive_ms: int = 1000,
    ) -> None:
        chosen = credentials or PeerCredentials(cluster_id="", token="")
        options: list[tuple[str, Any]] = [
            *keepalive_options(keepalive_ms),
            ("grpc.max_send_message_length", MAX_PEER_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_PEER_MESSAGE_BYTES),
        ]
        self._senders = {
            peer: _PeerSender(
                node_id,
                peer,
                address,
                credentials=chosen,
                queue_size=queue_size,
                queue_bytes=queue_bytes,
                timeout_s=timeout_s,
                options=options,
            )
            for peer, address in peers.items()
        }
        self.unroutable = 0

    @classmethod
    def from_settings(cls, settings: NodeSettings) -> PeerTransport:
        """The transport a node with ``settings`` uses (reads the peer secret and TLS files).

        Raises:
            PeerAuthError: the secret or a TLS file is missing or unsafe.
        """
        return cls(
            settings.id,
            settings.peers,
            credentials=load_credentials(settings),
            queue_size=settings.peer_queue,
            timeout_s=settings.peer_timeout_ms / 1000,
            keepalive_ms=settings.keepalive_ms,
        )

    def start(self) -> None:
        """Start the sender tasks (inside the running event loop)."""
        for sender in self._senders.values():
            sender.start()

    def send(self, messages: tuple[Message, ...] | list[Message]) -> None:
        """Queue messages for their peers; never blocks, drops when a queue is full."""
        for message in messages:
            sender = self._senders.get(message.to)
            if sender is None:
                self.unroutable += 1
                continue
            sender.offer(message)

    def dropped(self, peer: NodeId) -> int:
        """How many messages to ``peer`` were dropped so far."""
        sender = self._senders.get(peer)
        return 0 if sender is None else sender.dropped

    def address(self, peer: NodeId) -> str:
        """Where this node sends to ``peer`` ("" for a node that is not a peer)."""
        sender = self._senders.get(peer)
        return "" if sender is None else sender.address

    async def forward(
        self, peer: NodeId, request: pb.ForwardRequest, timeout_s: float
    ) -> pb.KvReply:
        """Hand a client's write to ``peer`` (the leader) over the peer link.

        Raises:
            KeyError: ``peer`` is not a peer of this node.
            grpc.aio.AioRpcError: the call failed (the caller decides what it means).
        """
        sender = self._senders[peer]
        reply: pb.KvReply = await sender.stub.Forward(
            request, timeout=timeout_s, metadata=sender.metadata
        )
        return reply

    async def sync(
        self, peer: NodeId, request: pb.SyncRequest, timeout_s: float
    ) -> pb.SyncReply:
        """Push ``ap`` versions to ``peer`` over its control connection.

        Raises:
            KeyError: ``peer`` is not a peer of this node.
            grpc.aio.AioRpcError: the call failed (the versions are sent again later).
        """
        sender = self._senders[peer]
        reply: pb.SyncReply = await sender.stub.Sync(
            request, timeout=timeout_s, metadata=sender.metadata
        )
        return reply

    async def close(self) -> None:
        """Stop every sender and close the channels."""
        for sender in self._senders.values():
            await sender.close()


def load_credentials(settings: NodeSettings) -> PeerCredentials:
    """The peer credentials of a node with ``settings``.

    Raises:
        PeerAuthError: the secret or a TLS file is missing or unsafe.
    """
    tls_files = None
    if settings.peer_tls_cert and settings.peer_tls_key and settings.peer_tls_ca:
        tls_files = (settings.peer_tls_cert, settings.peer_tls_key, settings.peer_tls_ca)
    return PeerCredentials.load(
        cluster_id=settings.cluster_id,
        secret_file=settings.peer_secret_file,
        tls_files=tls_files,
        tls_server_name=settings.peer_tls_server_name,
    )
