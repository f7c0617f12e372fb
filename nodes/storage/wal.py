"""The write-ahead log on disk: numbered segment files of framed records.

Rules: file handling only; what the records mean is ``replay``'s business.
A segment is ``wal-<seq>.log``: the eight-byte ``SEGMENT_MAGIC`` then records
(see ``codec``). Only the newest segment is appended to; a new segment is
created (and its directory entry synced) when the active one grows past
``segment_bytes`` or a snapshot is saved, so that compaction deletes whole
old segments. On recovery a bad record at the end of the newest segment is
a torn write: it is truncated and reported. A bad record anywhere else, or
one followed by a valid record, is corruption: ``CorruptLogError``, nothing
is touched. Methods raise ``OSError`` on IO failure; the caller poisons the
storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

import structlog

from nodes.storage.codec import (
    RECORD_HEADER,
    SEGMENT_MAGIC,
    EntriesRecord,
    PayloadError,
    WalRecord,
    decode_payload,
    next_valid_record,
    record_at,
)
from nodes.storage.fs import AppendFile, FileSystem
from nodes.storage.interface import CorruptLogError, DroppedTail

_log = structlog.get_logger()
_SEGMENT_NAME = re.compile(r"^wal-(\d{16})\.log$")


def segment_name(seq: int) -> str:
    """The file name of segment number ``seq``."""
    return f"wal-{seq:016d}.log"


def parse_segment_name(name: str) -> int | None:
    """The sequence number in a segment file name, or None when it is not one."""
    match = _SEGMENT_NAME.match(name)
    return int(match.group(1)) if match else None


@dataclass(slots=True)
class Segment:
    """One segment file and the highest log index any of its records touches."""

    seq: int
    path: PurePath
    size: int
    max_index: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ScannedRecord:
    """A record read back during recovery, with where it was found."""

    record: WalRecord
    path: str
    offset: int


class Wal:
    """The segment files of one data directory.

    Args:
        fs: the file system.
        directory: the data directory.
        sync: fsync appends (False only under the UNSAFE never-sync policy).
        segment_bytes: start a new segment once the active one is this big.
    """

    def __init__(
        self, fs: FileSystem, directory: PurePath, *, sync: bool, segment_bytes: int
    ) -> None:
        self._fs = fs
        self._dir = directory
        self._sync = sync
        self._segment_bytes = segment_bytes
        self._segments: list[Segment] = []
        self._handle: AppendFile | None = None

    @property
    def segment_count(self) -> int:
        """Number of segment files."""
        return len(self._segments)

    def recover(self, seqs: list[int]) -> tuple[list[ScannedRecord], list[DroppedTail]]:
        """Read every segment in order, truncating a torn tail of the newest one.

        Args:
            seqs: the segment numbers found in the directory.

        Returns:
            The valid records in log order, and the tails that were dropped.

        Raises:
            CorruptLogError: a bad record that is not a torn tail.
            OSError: reading or truncating failed.
        """
        records: list[ScannedRecord] = []
        dropped: list[DroppedTail] = []
        ordered = sorted(seqs)
        for position, seq in enumerate(ordered):
            path = self._dir / segment_name(seq)
            is_last = position == len(ordered) - 1
            segment = self._scan(seq, path, is_last=is_last, records=records, dropped=dropped)
            if segment is not None:
                self._segments.append(segment)
        if self._segments:
            self._handle = self._fs.open_append(self._segments[-1].path)
        return records, dropped

    def _scan(
        self,
        seq: int,
        path: PurePath,
        *,
        is_last: bool,
        records: list[ScannedRecord],
        dropped: list[DroppedTail],
    ) -> Segment | None:
        buf = self._fs.read(path)
        if not buf.startswith(SEGMENT_MAGIC):
            if is_last and SEGMENT_MAGIC.startswith(buf):
                self._drop_tail(path, 0, len(buf), "segment created but its header torn", dropped)
                self._fs.remove(path)
                self._fs.sync_dir(self._dir)
                return None
            raise CorruptLogError(str(path), 0, "not a WAL segment (wrong magic)")
        segment = Segment(seq=seq, path=path, size=len(buf))
        offset = len(SEGMENT_MAGIC)
        while offset < len(buf):
            payload = record_at(buf, offset)
            if isinstance(payload, str):
                if not is_last:
                    problem = f"{payload}, in a segment that newer segments follow"
                    raise CorruptLogError(str(path), offset, problem)
                following = next_valid_record(buf, offset)
                if following is not None:
                    problem = f"{payload}, yet a valid record follows at byte {following}"
                    raise CorruptLogError(str(path), offset, problem)
                self._drop_tail(path, offset, len(buf) - offset, payload, dropped)
                self._fs.truncate(path, offset)
                segment.size = offset
                break
            try:
                record = decode_payload(payload)
            except PayloadError as exc:
                raise CorruptLogError(str(path), offset, str(exc)) from exc
            records.append(ScannedRecord(record=record, path=str(path), offset=offset))
            segment.max_index = max(segment.max_index, _max_index(record))
            offset += RECORD_HEADER.size + len(payload)
        return segment

    @staticmethod
    def _drop_tail(
        path: PurePath, offset: int, size: int, reason: str, dropped: list[DroppedTail]
    ) -> None:
        _log.warning(
            "wal_torn_tail_truncated",
            path=str(path),
            offset=offset,
            bytes_dropped=size,
            reason=reason,
        )
        dropped.append(
            DroppedTail(path=str(path), offset=offset, bytes_dropped=size, reason=reason)
        )

    def append(self, data: bytes, max_index: int) -> None:
        """Append framed records to the active segment (and fsync under the sync policy).

        When the active segment is full, the records start a new segment
        instead (which also syncs the directory).

        Args:
            data: one or more framed records.
            max_index: the highest log index they touch.
        """
        if self._handle is None or self._segments[-1].size >= self._segment_bytes:
            self.rotate(data, max_index)
            return
        self._handle.write(data)
        if self._sync:
            self._handle.sync()
        active = self._segments[-1]
        active.size += len(data)
        active.max_index = max(active.max_index, max_index)

    def rotate(self, first_records: bytes, max_index: int) -> None:
        """Create the next segment holding ``first_records`` and make it the active one.

        The new file and its directory entry are synced before this returns.
        """
        seq = self._segments[-1].seq + 1 if self._segments else 1
        path = self._dir / segment_name(seq)
        handle = self._fs.open_append(path)
        data = SEGMENT_MAGIC + first_records
        handle.write(data)
        if self._sync:
            handle.sync()
            self._fs.sync_dir(self._dir)
        if self._handle is not None:
            self._handle.close()
        self._handle = handle
        self._segments.append(Segment(seq=seq, path=path, size=len(data), max_index=max_index))

    def drop_old_segments(self, *, up_to_index: int | None) -> int:
        """Delete old segments from the front (never the active one).

        Args:
            up_to_index: delete while a segment touches no index above this;
                None deletes every segment but the active one.

        Returns:
            How many segments were deleted.
        """
        doomed = 0
        for segment in self._segments[:-1]:
            if up_to_index is not None and segment.max_index > up_to_index:
                break
            doomed += 1
        for segment in self._segments[:doomed]:
            self._fs.remove(segment.path)
        if doomed:
            del self._segments[:doomed]
            if self._sync:
                self._fs.sync_dir(self._dir)
        return doomed

    def close(self) -> None:
        """Close the active segment's handle."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _max_index(record: WalRecord) -> int:
    if isinstance(record, EntriesRecord):
        return record.entries[-1].index if record.entries else 0
    return record.index
