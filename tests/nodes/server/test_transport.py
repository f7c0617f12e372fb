"""The peer transport's lanes: appends apart from control messages, batches capped by bytes."""

from __future__ import annotations

import asyncio

from nodes.raft import Entry, Message, MessageType
from nodes.server.limits import MAX_PEER_BATCH_BYTES, MIB
from nodes.server.transport import Lane, is_bulk, message_bytes


def append(size: int, index: int = 1) -> Message:
    """An append carrying one entry of ``size`` bytes."""
    entry = Entry(term=1, index=index, data=b"x" * size)
    return Message(type=MessageType.APP, to=2, frm=1, term=1, index=index - 1, entries=(entry,))


def heartbeat() -> Message:
    """A heartbeat."""
    return Message(type=MessageType.HEARTBEAT, to=2, frm=1, term=1)


def batches(lane: Lane, count: int) -> list[list[Message]]:
    """The lane's next ``count`` batches."""

    async def take() -> list[list[Message]]:
        return [await lane.next_batch() for _ in range(count)]

    return asyncio.run(take())


class TestLanes:
    """Lane batching and bounds."""

    def test_large_appends_and_control_go_apart(self) -> None:
        """Appends with entries are bulk; heartbeats and empty appends are control."""
        empty = Message(type=MessageType.APP, to=2, frm=1, term=1)

        assert (True, False, False) == (is_bulk(append(10)), is_bulk(heartbeat()), is_bulk(empty))

    def test_batches_stop_at_the_byte_cap(self) -> None:
        """Ten 1 MiB appends leave in batches under MAX_PEER_BATCH_BYTES, in order, none lost."""
        lane = Lane("bulk", size=100, max_bytes=64 * MIB)
        sent = [append(MIB, index=i) for i in range(1, 11)]
        for message in sent:
            lane.offer(message)

        got = batches(lane, 4)

        assert sent == [m for batch in got for m in batch]
        assert all(sum(message_bytes(m) for m in b) <= MAX_PEER_BATCH_BYTES for b in got)

    def test_one_oversized_message_still_leaves(self) -> None:
        """A message larger than the batch cap goes alone rather than never."""
        lane = Lane("bulk", size=10, max_bytes=64 * MIB)
        big = append(MAX_PEER_BATCH_BYTES + 1)
        lane.offer(big)
        lane.offer(heartbeat())

        assert [[big], [heartbeat()]] == batches(lane, 2)

    def test_queue_bytes_are_bounded(self) -> None:
        """Past the byte bound, further messages are dropped and counted."""
        lane = Lane("bulk", size=100, max_bytes=3 * MIB)
        for i in range(1, 6):
            lane.offer(append(MIB, index=i))

        assert 3 == lane.dropped
