"""Binary encodings of everything storage writes: WAL records, hard state, snapshots.

Rules: pure functions over bytes, no IO; ``struct`` little-endian, no pickle.
Checksums are ``zlib.crc32`` (CRC-32/ISO-HDLC, the zlib one) over the
payload. A WAL record is ``[u32 payload length][u32 crc32(payload)][payload]``
and a payload is one kind byte then its body:

* ``ENTRIES``: ``u64 commit, u32 count`` then per entry
  ``u64 term, u64 index, u8 type, u32 data length, data``;
* ``ANCHOR``: ``u64 index, u64 term, u8 keep_suffix`` (a snapshot was saved
  here: the log continues after it, keeping the entries past it or not).

Decoding a payload that passed its checksum but does not parse raises
``PayloadError`` (the caller reports the file and offset).
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from nodes.errors import NodeError
from nodes.raft.messages import Entry, EntryType, HardState, Snapshot, SnapshotMeta

SEGMENT_MAGIC = b"CLWAL\x00\x01\n"
"""The first eight bytes of every WAL segment (format version 1)."""

RECORD_HEADER = struct.Struct("<II")
MAX_PAYLOAD = 1 << 30
"""Payload lengths above this are treated as garbage."""

_ENTRIES_HEAD = struct.Struct("<BQI")
_ENTRY_HEAD = struct.Struct("<QQBI")
_ANCHOR = struct.Struct("<BQQB")
_TYPE_CODES = {EntryType.NORMAL: 0, EntryType.NOOP: 1}
_CODE_TYPES = {code: kind for kind, code in _TYPE_CODES.items()}

_HARD_STATE_MAGIC = b"CLHS0001"
_HARD_STATE = struct.Struct("<QQQ")
_CRC = struct.Struct("<I")
_SNAPSHOT_MAGIC = b"CLSNAP01"
_SNAPSHOT_HEAD = struct.Struct("<QQI")
_U64 = struct.Struct("<Q")


class RecordKind(enum.IntEnum):
    """The kind byte that starts a WAL payload."""

    ENTRIES = 1
    ANCHOR = 2


class PayloadError(NodeError, ValueError):
    """Bytes that passed their checksum (or had none) do not parse."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EntriesRecord:
    """A group commit: entries to append (replacing any suffix) and the commit index then."""

    commit: int
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AnchorRecord:
    """A snapshot at (index, term) was saved: the log continues after it."""

    index: int
    term: int
    keep_suffix: bool


WalRecord = EntriesRecord | AnchorRecord


def frame(payload: bytes) -> bytes:
    """Wrap a payload as a length-prefixed, checksummed record."""
    return RECORD_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def encode_entries(commit: int, entries: Sequence[Entry]) -> bytes:
    """Encode a group commit as a framed WAL record."""
    parts = [_ENTRIES_HEAD.pack(RecordKind.ENTRIES, commit, len(entries))]
    for entry in entries:
        parts.append(
            _ENTRY_HEAD.pack(entry.term, entry.index, _TYPE_CODES[entry.type], len(entry.data))
        )
        parts.append(entry.data)
    return frame(b"".join(parts))


def encode_anchor(index: int, term: int, *, keep_suffix: bool) -> bytes:
    """Encode a snapshot anchor as a framed WAL record."""
    return frame(_ANCHOR.pack(RecordKind.ANCHOR, index, term, int(keep_suffix)))


def decode_payload(payload: bytes) -> WalRecord:
    """Decode one record payload.

    Raises:
        PayloadError: unknown kind, or the body does not match its lengths.
    """
    try:
        kind = payload[0]
        if kind == RecordKind.ANCHOR:
            _, index, term, keep = _ANCHOR.unpack(payload)
            return AnchorRecord(index=index, term=term, keep_suffix=bool(keep))
        if kind != RecordKind.ENTRIES:
            msg = f"unknown record kind {kind}"
            raise PayloadError(msg)
        _, commit, count = _ENTRIES_HEAD.unpack_from(payload)
        offset = _ENTRIES_HEAD.size
        entries = []
        for _ in range(count):
            term, index, code, length = _ENTRY_HEAD.unpack_from(payload, offset)
            offset += _ENTRY_HEAD.size
            data = payload[offset : offset + length]
            if len(data) != length or code not in _CODE_TYPES:
                msg = f"entry {index} is truncated or has unknown type code {code}"
                raise PayloadError(msg)
            offset += length
            entries.append(Entry(term=term, index=index, type=_CODE_TYPES[code], data=data))
        if offset != len(payload):
            msg = f"{len(payload) - offset} stray bytes after the entries"
            raise PayloadError(msg)
        return EntriesRecord(commit=commit, entries=tuple(entries))
    except (struct.error, IndexError) as exc:
        msg = f"malformed record payload: {exc}"
        raise PayloadError(msg) from exc


def record_at(buf: bytes, offset: int) -> bytes | str:
    """Return the payload of the record at ``offset``, or why there is no valid one."""
    if len(buf) - offset < RECORD_HEADER.size:
        return "torn record header"
    length, crc = RECORD_HEADER.unpack_from(buf, offset)
    if length == 0 or length > MAX_PAYLOAD:
        return f"implausible record length {length}"
    start = offset + RECORD_HEADER.size
    if start + length > len(buf):
        return "record runs past the end of the file"
    payload = buf[start : start + length]
    if zlib.crc32(payload) != crc:
        return "checksum mismatch"
    return payload


def next_valid_record(buf: bytes, after: int) -> int | None:
    """Find the first offset past ``after`` where a valid record starts, if any."""
    for offset in range(after + 1, len(buf) - RECORD_HEADER.size + 1):
        if not isinstance(record_at(buf, offset), str):
            return offset
    return None


def encode_hard_state(state: HardState) -> bytes:
    """Encode the hard state file: magic, term, vote, commit, crc32."""
    body = _HARD_STATE_MAGIC + _HARD_STATE.pack(state.term, state.vote, state.commit)
    return body + _CRC.pack(zlib.crc32(body))


def decode_hard_state(data: bytes) -> HardState:
    """Decode the hard state file.

    Raises:
        PayloadError: wrong size, magic or checksum.
    """
    body, crc = data[: -_CRC.size], data[-_CRC.size :]
    expected_size = len(_HARD_STATE_MAGIC) + _HARD_STATE.size + _CRC.size
    if len(data) != expected_size or not body.startswith(_HARD_STATE_MAGIC):
        msg = f"hard state file has {len(data)} bytes or a wrong magic"
        raise PayloadError(msg)
    if _CRC.unpack(crc)[0] != zlib.crc32(body):
        msg = "hard state checksum mismatch"
        raise PayloadError(msg)
    term, vote, commit = _HARD_STATE.unpack_from(body, len(_HARD_STATE_MAGIC))
    return HardState(term=term, vote=vote, commit=commit)


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """Encode a snapshot file: magic, index, term, voters, data, crc32 of all before it."""
    meta = snapshot.meta
    body = b"".join(
        [
            _SNAPSHOT_MAGIC,
            _SNAPSHOT_HEAD.pack(meta.index, meta.term, len(meta.voters)),
            *(_U64.pack(voter) for voter in meta.voters),
            _U64.pack(len(snapshot.data)),
            snapshot.data,
        ]
    )
    return body + _CRC.pack(zlib.crc32(body))


def decode_snapshot(data: bytes) -> Snapshot:
    """Decode a snapshot file.

    Raises:
        PayloadError: wrong magic, lengths or checksum.
    """
    body, crc = data[: -_CRC.size], data[-_CRC.size :]
    if not body.startswith(_SNAPSHOT_MAGIC) or len(crc) != _CRC.size:
        msg = "not a snapshot file (wrong magic or too short)"
        raise PayloadError(msg)
    if _CRC.unpack(crc)[0] != zlib.crc32(body):
        msg = "snapshot checksum mismatch"
        raise PayloadError(msg)
    try:
        offset = len(_SNAPSHOT_MAGIC)
        index, term, n_voters = _SNAPSHOT_HEAD.unpack_from(body, offset)
        offset += _SNAPSHOT_HEAD.size
        voters = struct.unpack_from(f"<{n_voters}Q", body, offset)
        offset += 8 * n_voters
        (length,) = _U64.unpack_from(body, offset)
        offset += _U64.size
    except struct.error as exc:
        msg = f"malformed snapshot header: {exc}"
        raise PayloadError(msg) from exc
    if offset + length != len(body):
        msg = f"snapshot data length {length} does not match the file"
        raise PayloadError(msg)
    return Snapshot(
        meta=SnapshotMeta(index=index, term=term, voters=tuple(voters)),
        data=body[offset:],
    )
