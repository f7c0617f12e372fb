"""Convert Raft messages, entries and snapshots to and from protobuf.

Rules: pure conversion, no IO. Decoding trusts nothing: a message from the
wire that is not a valid Raft message raises ``CodecError`` (the sender's
fault) instead of reaching the core; that includes every term and index above
``MAX_TERM``/``MAX_INDEX`` (protobuf allows 2**64-1, and the core must still be
able to add one). Snapshots travel in chunks of at most ``SNAPSHOT_CHUNK_BYTES``
so no single gRPC message carries a whole snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator

from nodes.errors import NodeError
from nodes.raft import Entry, EntryType, Message, MessageType, Snapshot, SnapshotMeta
from nodes.rpc import chaoslab_pb2 as pb

SNAPSHOT_CHUNK_BYTES = 256 * 1024
"""The largest piece of snapshot data in one stream message."""
MAX_TERM = 2**63 - 1
"""The highest term a peer message may carry (the core adds one; storage keeps uint64)."""
MAX_INDEX = 2**63 - 1
"""The highest log index (commit, hint, entry or snapshot index) a peer message may carry."""
MAX_NODE_ID = 99
"""Node ids run from 1 to this (0 means "nobody")."""


class CodecError(NodeError):
    """Bytes from a peer are not a valid Raft message (the sending peer's fault)."""


def _entry_to_pb(entry: Entry) -> pb.EntryPb:
    return pb.EntryPb(
        term=entry.term,
        index=entry.index,
        noop=entry.type is EntryType.NOOP,
        data=entry.data,
    )


def _check_range(value: int, highest: int, what: str, frm: int) -> None:
    if value > highest:
        msg = f"{what} {value} from node {frm} is above the limit {highest}"
        raise CodecError(msg)


def _entry_from_pb(entry: pb.EntryPb, frm: int) -> Entry:
    _check_range(entry.term, MAX_TERM, "entry term", frm)
    _check_range(entry.index, MAX_INDEX, "entry index", frm)
    kind = EntryType.NOOP if entry.noop else EntryType.NORMAL
    return Entry(term=entry.term, index=entry.index, type=kind, data=entry.data)


def _snapshot_to_pb(snapshot: Snapshot, *, with_data: bool = True) -> pb.SnapshotPb:
    meta = snapshot.meta
    return pb.SnapshotPb(
        index=meta.index,
        term=meta.term,
        voters=list(meta.voters),
        data=snapshot.data if with_data else b"",
    )


def _snapshot_from_pb(snapshot: pb.SnapshotPb, frm: int, data: bytes | None = None) -> Snapshot:
    _check_range(snapshot.term, MAX_TERM, "snapshot term", frm)
    _check_range(snapshot.index, MAX_INDEX, "snapshot index", frm)
    for voter in snapshot.voters:
        if not 1 <= voter <= MAX_NODE_ID:
            msg = f"snapshot voter {voter} from node {frm} is outside 1..{MAX_NODE_ID}"
            raise CodecError(msg)
    meta = SnapshotMeta(index=snapshot.index, term=snapshot.term, voters=tuple(snapshot.voters))
    return Snapshot(meta=meta, data=snapshot.data if data is None else data)


def message_to_pb(message: Message, *, with_snapshot_data: bool = True) -> pb.MessagePb:
    """Encode a Raft message.

    Args:
        message: the message.
        with_snapshot_data: False to leave a snapshot's data out (it is streamed apart).

    Returns:
        The protobuf message.
    """
    encoded = pb.MessagePb(
        type=message.type.value,
        to=message.to,
        frm=message.frm,
        term=message.term,
        log_term=message.log_term,
        index=message.index,
        entries=[_entry_to_pb(e) for e in message.entries],
        commit=message.commit,
        reject=message.reject,
        reject_hint=message.reject_hint,
        context=message.context,
        target=message.target,
        force=message.force,
    )
    if message.snapshot is not None:
        encoded.snapshot.CopyFrom(_snapshot_to_pb(message.snapshot, with_data=with_snapshot_data))
    return encoded


def message_from_pb(message: pb.MessagePb, *, snapshot_data: bytes | None = None) -> Message:
    """Decode a Raft message.

    Args:
        message: the protobuf message.
        snapshot_data: the snapshot's data when it was streamed apart.

    Returns:
        The Raft message.

    Raises:
        CodecError: the message type is unknown, a SNAP carries no snapshot, a node id
            is outside 0..99, or a term or index is above its limit.
    """
    frm = message.frm
    try:
        kind = MessageType(message.type)
    except ValueError:
        msg = f"unknown raft message type {message.type[:40]!r} from node {frm}"
        raise CodecError(msg) from None
    for what, node in (("to", message.to), ("frm", frm), ("target", message.target)):
        _check_range(node, MAX_NODE_ID, f"node id ({what})", frm)
    _check_range(message.term, MAX_TERM, "term", frm)
    _check_range(message.log_term, MAX_TERM, "log term", frm)
    for what, index in (
        ("index", message.index),
        ("commit", message.commit),
        ("reject hint", message.reject_hint),
    ):
        _check_range(index, MAX_INDEX, what, frm)
    snapshot = (
        _snapshot_from_pb(message.snapshot, frm, snapshot_data)
        if message.HasField("snapshot")
        else None
    )
    if kind is MessageType.SNAP and snapshot is None:
        msg = f"a snap message from node {message.frm} carries no snapshot"
        raise CodecError(msg)
    return Message(
        type=kind,
        to=message.to,
        frm=message.frm,
        term=message.term,
        log_term=message.log_term,
        index=message.index,
        entries=tuple(_entry_from_pb(e, frm) for e in message.entries),
        commit=message.commit,
        reject=message.reject,
        reject_hint=message.reject_hint,
        snapshot=snapshot,
        context=message.context,
        target=message.target,
        force=message.force,
    )


def snapshot_chunks(
    message: Message, chunk_bytes: int = SNAPSHOT_CHUNK_BYTES
) -> Iterator[pb.SnapshotChunk]:
    """Split a SNAP message into stream chunks: the header, then the data in pieces.

    Raises:
        CodecError: the message carries no snapshot.
    """
    if message.snapshot is None:
        msg = f"message {message.type.value} to node {message.to} carries no snapshot"
        raise CodecError(msg)
    yield pb.SnapshotChunk(header=message_to_pb(message, with_snapshot_data=False))
    data = message.snapshot.data
    for start in range(0, len(data), chunk_bytes):
        yield pb.SnapshotChunk(data=data[start : start + chunk_bytes])


class SnapshotAssembler:
    """Reassemble a SNAP message from its stream chunks, refusing oversized snapshots.

    Args:
        max_bytes: refuse a snapshot with more data than this.
    """

    def __init__(self, *, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._header: pb.MessagePb | None = None
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, chunk: pb.SnapshotChunk) -> None:
        """Take the next chunk.

        Raises:
            CodecError: no header first, a second header, or more than ``max_bytes`` of data.
        """
        if chunk.HasField("header"):
            if self._header is not None:
                msg = "a snapshot stream carries two headers"
                raise CodecError(msg)
            self._header = chunk.header
        elif self._header is None:
            msg = "a snapshot stream must start with its header"
            raise CodecError(msg)
        self._size += len(chunk.data)
        if self._size > self._max_bytes:
            msg = f"snapshot is larger than the {self._max_bytes}-byte limit"
            raise CodecError(msg)
        self._parts.append(chunk.data)

    def finish(self) -> Message:
        """Return the whole SNAP message.

        Raises:
            CodecError: the stream was empty or is not a valid message.
        """
        if self._header is None:
            msg = "an empty snapshot stream"
            raise CodecError(msg)
        return message_from_pb(self._header, snapshot_data=b"".join(self._parts))
