"""The Raft ↔ protobuf codec: lossless round trips, chunked snapshots, refusals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.raft import Entry, EntryType, Message, MessageType, Snapshot, SnapshotMeta
from nodes.rpc import (
    CodecError,
    SnapshotAssembler,
    message_from_pb,
    message_to_pb,
    snapshot_chunks,
)
from nodes.rpc import chaoslab_pb2 as pb

small = st.integers(min_value=0, max_value=2**40)
node_ids = st.integers(min_value=0, max_value=99)
entries = st.builds(
    Entry,
    term=small,
    index=small,
    type=st.sampled_from(EntryType),
    data=st.binary(max_size=64),
)
snapshots = st.builds(
    Snapshot,
    meta=st.builds(
        SnapshotMeta,
        index=small,
        term=small,
        voters=st.lists(st.integers(1, 99), max_size=5).map(tuple),
    ),
    data=st.binary(max_size=2000),
)
messages = st.builds(
    Message,
    type=st.sampled_from(MessageType),
    to=node_ids,
    frm=node_ids,
    term=small,
    log_term=small,
    index=small,
    entries=st.lists(entries, max_size=4).map(tuple),
    commit=small,
    reject=st.booleans(),
    reject_hint=small,
    snapshot=st.none() | snapshots,
    context=st.binary(max_size=16),
    target=node_ids,
    force=st.booleans(),
)


class TestMessageCodec:
    """Messages survive encoding, serialization and decoding."""

    @settings(max_examples=150, deadline=None)
    @given(message=messages)
    def test_round_trip(self, message: Message) -> None:
        """decode(parse(serialize(encode(m)))) == m for every message (SNAP needs a snapshot)."""
        if message.type is MessageType.SNAP and message.snapshot is None:
            return
        wire = message_to_pb(message).SerializeToString()

        assert message == message_from_pb(pb.MessagePb.FromString(wire))

    def test_unknown_type_is_the_senders_fault(self) -> None:
        """An unknown message type raises CodecError naming the sender."""
        with pytest.raises(CodecError, match="unknown raft message type 'gossip' from node 4"):
            message_from_pb(pb.MessagePb(type="gossip", frm=4))

    def test_snap_without_snapshot_is_refused(self) -> None:
        """A SNAP message must carry a snapshot."""
        with pytest.raises(CodecError, match="carries no snapshot"):
            message_from_pb(pb.MessagePb(type="snap", frm=2))


class TestSnapshotChunks:
    """Snapshots stream as a header and bounded chunks."""

    @settings(max_examples=50, deadline=None)
    @given(snapshot=snapshots, chunk=st.integers(min_value=1, max_value=700))
    def test_chunks_reassemble(self, snapshot: Snapshot, chunk: int) -> None:
        """Reassembling the chunks gives back the message; no chunk exceeds the size."""
        message = Message(type=MessageType.SNAP, to=2, frm=1, term=3, snapshot=snapshot)
        assembler = SnapshotAssembler(max_bytes=10_000)
        parts = list(snapshot_chunks(message, chunk))
        for part in parts:
            assembler.add(part)

        assert message == assembler.finish()
        assert all(len(p.data) <= chunk for p in parts)

    def test_oversized_snapshot_is_refused(self) -> None:
        """More data than ``max_bytes`` raises CodecError."""
        snapshot = Snapshot(meta=SnapshotMeta(index=5, term=1, voters=(1, 2)), data=b"x" * 100)
        message = Message(type=MessageType.SNAP, to=2, frm=1, snapshot=snapshot)
        assembler = SnapshotAssembler(max_bytes=50)

        with pytest.raises(CodecError, match="larger than the 50-byte limit"):
            for part in snapshot_chunks(message, 10):
                assembler.add(part)

    def test_data_before_header_is_refused(self) -> None:
        """A stream must start with its header."""
        assembler = SnapshotAssembler(max_bytes=50)

        with pytest.raises(CodecError, match="must start with its header"):
            assembler.add(pb.SnapshotChunk(data=b"x"))
