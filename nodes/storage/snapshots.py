"""Snapshot files: ``snap-<index>.snap``, each written atomically and checksummed.

Rules: a snapshot file is complete or absent (temp file, fsync, rename,
directory fsync). The newest ``KEEP_SNAPSHOTS`` files are kept; ``load``
takes the newest one that passes its checks and reports the others it had
to pass over (they stay on disk for inspection).
"""

from __future__ import annotations

import re
from pathlib import PurePath

import structlog

from nodes.raft.messages import Snapshot
from nodes.storage.atomic import write_atomically
from nodes.storage.codec import PayloadError, decode_snapshot, encode_snapshot
from nodes.storage.fs import FileSystem
from nodes.storage.interface import SkippedSnapshot

_log = structlog.get_logger()
_SNAPSHOT_NAME = re.compile(r"^snap-(\d{20})\.snap$")
KEEP_SNAPSHOTS = 2


def snapshot_name(index: int) -> str:
    """The file name of the snapshot at ``index``."""
    return f"snap-{index:020d}.snap"


def parse_snapshot_name(name: str) -> int | None:
    """The index in a snapshot file name, or None when it is not one."""
    match = _SNAPSHOT_NAME.match(name)
    return int(match.group(1)) if match else None


def load_newest(
    fs: FileSystem, directory: PurePath, indexes: list[int]
) -> tuple[Snapshot | None, list[SkippedSnapshot], int]:
    """Return the newest valid snapshot, the ones passed over, and the chosen file's size.

    Args:
        fs: the file system.
        directory: the data directory.
        indexes: the snapshot indexes found in the directory.
    """
    skipped: list[SkippedSnapshot] = []
    for index in sorted(indexes, reverse=True):
        path = directory / snapshot_name(index)
        data = fs.read(path)
        try:
            snapshot = decode_snapshot(data)
        except PayloadError as exc:
            reason = str(exc)
        else:
            if snapshot.meta.index == index:
                return snapshot, skipped, len(data)
            reason = f"file name says index {index} but it holds index {snapshot.meta.index}"
        _log.warning("snapshot_skipped", path=str(path), reason=reason)
        skipped.append(SkippedSnapshot(path=str(path), reason=reason))
    return None, skipped, 0


def save(fs: FileSystem, directory: PurePath, snapshot: Snapshot, *, sync: bool) -> int:
    """Write a snapshot file atomically; returns its size in bytes."""
    data = encode_snapshot(snapshot)
    write_atomically(fs, directory / snapshot_name(snapshot.meta.index), data, sync=sync)
    return len(data)


def prune(fs: FileSystem, directory: PurePath, indexes: list[int], *, sync: bool) -> list[int]:
    """Delete all but the newest ``KEEP_SNAPSHOTS`` snapshot files; returns the kept indexes."""
    ordered = sorted(indexes)
    doomed, kept = ordered[:-KEEP_SNAPSHOTS], ordered[-KEEP_SNAPSHOTS:]
    for index in doomed:
        fs.remove(directory / snapshot_name(index))
    if doomed and sync:
        fs.sync_dir(directory)
    return kept
