"""The ``ap`` mode's durable state: an append-only log of versions over a ``FileSystem``.

Rules: storage IO only, through ``nodes.storage.FileSystem`` (so the simulator's disk, and
the node's disk failpoints, apply). The directory holds ``ap.log`` (and, after a crash, an
``ap.log.tmp`` leftover of an unfinished compaction, removed on load); anything else is a
foreign file (a data directory of a Raft-mode node): refuse to start. The file is a magic
header, then records framed as the Raft WAL frames them (``nodes.storage.codec.frame``:
length, CRC-32, payload); a payload is the JSON array of its versions. ``append`` writes one
record and fsyncs before it returns (unless the UNSAFE never-sync policy is on). Recovery
keeps every whole record, cuts a torn tail, and refuses a bad record followed by good ones
(damage it must not paper over). Any ``OSError`` while writing poisons the log: that call
and every later one raise ``StorageFailure``. Compaction rewrites the file atomically
with one version per key once it has grown past ``COMPACT_FACTOR`` times the live state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import PurePath

import structlog

from nodes.ap.hlc import Timestamp, TimestampError
from nodes.ap.store import Version
from nodes.storage.atomic import TEMP_SUFFIX, write_atomically
from nodes.storage.codec import RECORD_HEADER, frame, next_valid_record, record_at
from nodes.storage.fs import AppendFile, FileSystem
from nodes.storage.interface import CorruptLogError, DataDirError, StorageFailure

_log = structlog.get_logger()

LOG_NAME = "ap.log"
MAGIC = b"CLAPLOG1"
COMPACT_MIN_BYTES = 1 << 20
"""Never compact a log smaller than this."""
COMPACT_FACTOR = 4
"""Compact once the log is this many times larger than one record of the live state."""


def encode_versions(versions: Sequence[Version]) -> bytes:
    """One framed record holding ``versions``."""
    rows = [
        [v.key, v.value, v.stamp.physical_ms, v.stamp.logical, v.stamp.node] for v in versions
    ]
    return frame(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode())


def decode_versions(payload: bytes) -> list[Version]:
    """The versions of one record's payload.

    Raises:
        ValueError: the payload is not a list of ``[key, value, ms, logical, node]``.
    """
    rows = json.loads(payload.decode())
    if not isinstance(rows, list):
        msg = "a record must hold a JSON array"
        raise ValueError(msg)
    versions = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 5):
            msg = f"a version must be [key, value, ms, logical, node], got {row!r:.80}"
            raise ValueError(msg)
        key, value, physical, logical, node = row
        if not isinstance(key, str) or not (value is None or isinstance(value, str)) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in (physical, logical, node)
        ):
            msg = f"a version has fields of the wrong types: {row!r:.80}"
            raise ValueError(msg)
        try:
            stamp = Timestamp(physical, logical, node)
        except TimestampError as exc:
            raise ValueError(str(exc)) from exc
        versions.append(Version(key=key, value=value, stamp=stamp))
    return versions


class ApLog:
    """The durable versions of one ``ap`` replica.

    Args:
        fs: the file system.
        directory: the node's data directory.
        sync: fsync every append (False is the UNSAFE never-sync policy).
    """

    def __init__(self, fs: FileSystem, directory: PurePath, *, sync: bool = True) -> None:
        self._fs = fs
        self._dir = directory
        self._path = directory / LOG_NAME
        self._sync = sync
        self._handle: AppendFile | None = None
        self._failure: str | None = None
        self.size = 0
        """Bytes in the log file."""

    @property
    def path(self) -> PurePath:
        """The log file."""
        return self._path

    def load(self) -> list[Version]:
        """Recover the versions the log holds (cutting a torn tail) and open it for appends.

        Raises:
            DataDirError: the directory holds foreign files or is not a directory.
            CorruptLogError: a damaged record is followed by whole ones, or the header is bad.
            StorageFailure: the disk failed while repairing.
        """
        fs = self._fs
        directory = self._dir
        try:
            if fs.exists(directory) and not fs.is_dir(directory):
                raise DataDirError(str(directory), "not a directory")
            if not fs.exists(directory):
                fs.makedirs(directory)
            for name in fs.listdir(directory):
                if name == LOG_NAME + TEMP_SUFFIX:
                    fs.remove(directory / name)
                elif name != LOG_NAME:
                    raise DataDirError(
                        str(directory / name),
                        "foreign file in an ap data directory (a Raft-mode node's data? "
                        "consistency modes cannot share a data directory)",
                    )
            versions = self._recover() if fs.exists(self._path) else []
            if not fs.exists(self._path):
                write_atomically(fs, self._path, MAGIC, sync=self._sync)
            self._handle = fs.open_append(self._path)
            self.size = fs.size(self._path)
        except OSError as exc:
            raise self._poison("load", exc) from exc
        return versions

    def _recover(self) -> list[Version]:
        fs = self._fs
        data = fs.read(self._path)
        if data[: len(MAGIC)] != MAGIC:  # created atomically: a whole header or no file
            raise CorruptLogError(str(self._path), 0, "not an ap log (bad header)")
        versions: list[Version] = []
        offset = len(MAGIC)
        while offset < len(data):
            payload = record_at(data, offset)
            problem = payload if isinstance(payload, str) else None
            if problem is None:
                assert isinstance(payload, bytes)
                try:
                    versions.extend(decode_versions(payload))
                except ValueError as exc:
                    problem = f"a record that passed its checksum does not parse: {exc}"
            if problem is not None:
                if next_valid_record(data, offset) is not None:
                    raise CorruptLogError(str(self._path), offset, problem)
                _log.warning("ap_log_torn_tail", path=str(self._path), offset=offset,
                             dropped=len(data) - offset, reason=problem)
                fs.truncate(self._path, offset)
                break
            offset += RECORD_HEADER.size + len(payload)
        return versions

    def append(self, versions: Sequence[Version]) -> None:
        """Make ``versions`` durable (one record, one fsync).

        Raises:
            StorageFailure: the write or the fsync failed (now or before).
        """
        if not versions:
            return
        handle = self._open("append")
        record = encode_versions(versions)
        try:
            handle.write(record)
            if self._sync:
                handle.sync()
        except OSError as exc:
            raise self._poison("append", exc) from exc
        self.size += len(record)

    def wants_compaction(self, live: int) -> bool:
        """Whether the log outgrew ``live`` keys' worth of records (see the module rules)."""
        return self.size > max(COMPACT_MIN_BYTES, COMPACT_FACTOR * 64 * max(1, live))

    def compact(self, versions: Iterable[Version]) -> None:
        """Replace the log, atomically, by one record of ``versions`` (the live state).

        Raises:
            StorageFailure: the disk failed (the old log stays whole).
        """
        handle = self._open("compact")
        record = MAGIC + encode_versions(list(versions))
        try:
            handle.close()
            self._handle = None
            write_atomically(self._fs, self._path, record, sync=self._sync)
            self._handle = self._fs.open_append(self._path)
        except OSError as exc:
            raise self._poison("compact", exc) from exc
        self.size = len(record)

    def close(self) -> None:
        """Release the file handle."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                handle.close()
            except OSError as exc:
                _log.warning("ap_log_close_failed", error=str(exc))

    def _open(self, operation: str) -> AppendFile:
        if self._failure is not None:
            msg = (f"ap log {self._path} refuses {operation}: an earlier {self._failure} "
                   "(nothing may continue after a failed write or fsync)")
            raise StorageFailure(msg)
        if self._handle is None:
            msg = f"{operation} on the ap log {self._path} before load (or after close)"
            raise StorageFailure(msg)
        return self._handle

    def _poison(self, operation: str, exc: OSError) -> StorageFailure:
        self._failure = f"{operation} failed: {exc}"
        _log.error("storage_failed", operation=operation, path=str(self._path), error=str(exc))
        return StorageFailure(f"ap log {self._path}: {self._failure}; refusing all further calls")
