"""Send Raft messages to peers over gRPC: one channel and one sender task per peer.

Rules: sending never blocks the node. ``send`` puts messages on a bounded queue
per peer and drops them when the queue is full (Raft retransmits whatever was
lost). Each sender task drains its queue into one ``Deliver`` call per batch;
snapshots go through the chunked ``InstallSnapshot`` stream. Channels use gRPC
keepalive, so a connection blackholed by a partition is declared dead within
about ``2 * keepalive`` and re-established once the peer answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import grpc
import structlog

from nodes.raft import Message, MessageType, NodeId
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc
from nodes.rpc import message_to_pb, snapshot_chunks

_log = structlog.get_logger()

MAX_BATCH = 256
"""At most this many messages in one ``Deliver`` call."""


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


class _PeerSender:
    """The queue, channel and sender task of one peer."""

    def __init__(
        self,
        node_id: NodeId,
        peer: NodeId,
        address: str,
        *,
        queue_size: int,
        timeout_s: float,
        options: list[tuple[str, int]],
    ) -> None:
        self.peer = peer
        self.address = address
        self.dropped = 0
        self.sent = 0
        self._node_id = node_id
        self._timeout_s = timeout_s
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=queue_size)
        self._channel = grpc.aio.insecure_channel(address, options=options)
        self._stub = pb_grpc.PeerStub(self._channel)
        self._task: asyncio.Task[None] | None = None
        self._healthy = True
        self._log = _log.bind(node=node_id, peer=peer, address=address)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"peer-sender-{self.peer}")

    def offer(self, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._channel.close(grace=None)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            snaps = [m for m in batch if m.type is MessageType.SNAP]
            plain = [m for m in batch if m.type is not MessageType.SNAP]
            ok = True
            if plain:
                ok = await self._deliver(plain)
            for snap in snaps:
                ok = await self._install(snap) and ok
            if ok != self._healthy:
                self._healthy = ok
                self._log.info("peer_link_changed", reachable=ok)
            if not ok:
                # Back off a little; messages queued meanwhile may be dropped.
                await asyncio.sleep(min(0.1, self._timeout_s))

    async def _deliver(self, messages: list[Message]) -> bool:
        request = pb.MessageBatch(
            sender=self._node_id, messages=[message_to_pb(m) for m in messages]
        )
        try:
            await self._stub.Deliver(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as exc:
            self.dropped += len(messages)
            self._log.debug("peer_send_failed", code=exc.code().name, dropped=len(messages))
            return False
        self.sent += len(messages)
        return True

    async def _install(self, message: Message) -> bool:
        try:
            await self._stub.InstallSnapshot(
                snapshot_chunks(message), timeout=max(self._timeout_s, 10.0)
            )
        except grpc.aio.AioRpcError as exc:
            self.dropped += 1
            self._log.info("snapshot_send_failed", code=exc.code().name)
            return False
        self.sent += 1
        self._log.info(
            "snapshot_sent", index=message.snapshot.meta.index if message.snapshot else 0
        )
        return True


class PeerTransport:
    """Fire-and-forget delivery of Raft messages to every peer.

    Args:
        node_id: this node's id (the sender).
        peers: peer id → the address this node sends to.
        queue_size: per-peer queue bound; messages beyond it are dropped.
        timeout_s: deadline of each ``Deliver`` call.
        keepalive_ms: keepalive ping interval (and timeout) of each channel.
    """

    def __init__(
        self,
        node_id: NodeId,
        peers: Mapping[NodeId, str],
        *,
        queue_size: int = 4096,
        timeout_s: float = 1.0,
        keepalive_ms: int = 1000,
    ) -> None:
        options = [
            *keepalive_options(keepalive_ms),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ]
        self._senders = {
            peer: _PeerSender(
                node_id,
                peer,
                address,
                queue_size=queue_size,
                timeout_s=timeout_s,
                options=options,
            )
            for peer, address in peers.items()
        }
        self.unroutable = 0

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

    async def close(self) -> None:
        """Stop every sender and close the channels."""
        for sender in self._senders.values():
            await sender.close()
