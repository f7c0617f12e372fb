"""What the rest of the node sees of storage: the protocol, the sync policy, the errors.

Rules: no IO here; value types are frozen dataclasses. ``StorageFailure``
means the disk let us down (the node must stop); ``CorruptLogError`` means
the data on disk is damaged in a way recovery must not paper over (a missing
or stale hard state file is such damage: ``LostHardStateError``);
``DataDirError`` means the directory we were given is unusable.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nodes.errors import NodeError
from nodes.raft.messages import Entry, HardState, RestoredState, Snapshot


class SyncPolicy(enum.Enum):
    """When storage calls fsync."""

    ALWAYS = "always"
    """fsync before every ``save``/``save_snapshot`` returns (the default, the only safe one)."""
    UNSAFE_NEVER = "never"
    """UNSAFE lab switch: never fsync. Acknowledged writes vanish on a crash."""


class StorageError(NodeError):
    """Root of the storage errors."""


class StorageFailure(StorageError):
    """A write, fsync, rename or delete failed; the storage refuses every later call.

    Nothing may continue after a failed fsync: the kernel may have dropped the
    dirty pages, so retrying could acknowledge data that is not on disk.
    """


class StorageUsageError(StorageError):
    """The caller misused the storage API (e.g. ``save`` before ``load``)."""


class DataDirError(StorageError):
    """The data directory is unusable: not a directory, not writable, foreign files.

    Attributes:
        path: the offending path.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"data directory problem at {path}: {problem}")
        self.path = path


class CorruptLogError(StorageError):
    """Damage that recovery refuses to repair (a bad record followed by valid ones).

    Attributes:
        path: the damaged file.
        offset: byte offset of the first bad record in that file.
    """

    def __init__(self, path: str, offset: int, problem: str) -> None:
        super().__init__(
            f"corrupt log {path} at byte {offset}: {problem}; refusing to start "
            "(move the data directory aside or restore it from a replica)"
        )
        self.path = path
        self.offset = offset


class LostHardStateError(CorruptLogError):
    """The hard state file is missing, or older than the log next to it.

    Term and vote are made durable before any entry of that term is written, so
    a log with entries (or a snapshot) of term t and no hard state of term >= t
    means the file was deleted or replaced. Starting anyway would forget the
    vote: the node could vote twice in one term and elect two leaders.

    Attributes:
        path: the hard state file.
    """

    REMEDY = (
        "restore that file from a backup of this data directory taken with the log; "
        "if there is none, move the whole data directory aside and start the node empty, "
        "so it catches up from the leader (one node at a time, while the others hold a "
        "majority)"
    )

    def __init__(self, path: str, problem: str) -> None:
        # Not CorruptLogError's wording ("corrupt log ... at byte"): nothing is corrupt,
        # a file is gone, and the remedy is specific.
        StorageError.__init__(self, f"{path}: {problem}; refusing to start: {self.REMEDY}")
        self.path = path
        self.offset = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DroppedTail:
    """A torn or corrupt tail that recovery truncated."""

    path: str
    offset: int
    bytes_dropped: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedSnapshot:
    """A snapshot file that failed its checksum and was passed over (left on disk)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryReport:
    """What ``load`` had to repair or pass over; empty after a clean shutdown."""

    dropped_tails: tuple[DroppedTail, ...] = ()
    skipped_snapshots: tuple[SkippedSnapshot, ...] = ()
    removed_temp_files: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        """Whether recovery found nothing to repair."""
        return not (self.dropped_tails or self.skipped_snapshots or self.removed_temp_files)


class Storage(Protocol):
    """Durable state of one Raft node: hard state, log, newest snapshot."""

    def load(self) -> RestoredState:
        """Recover the state; call once, before anything else.

        Raises:
            CorruptLogError: mid-log corruption (never silently repaired).
            DataDirError: the directory is unusable.
            StorageFailure: the disk failed while repairing a torn tail.
        """
        ...

    def save(self, *, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        """Persist one ``Ready`` batch as one group commit, durable when this returns.

        Args:
            hard_state: the new hard state, or None when unchanged.
            entries: entries to append; when ``entries[0].index`` is at or below
                the last stored index, the stored suffix from there on is replaced.

        Raises:
            StorageFailure: a write or fsync failed (now and on every later call).
        """
        ...

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Persist a snapshot durably, then drop the log it covers.

        Raises:
            StorageFailure: a write or fsync failed (now and on every later call).
        """
        ...

    def close(self) -> None:
        """Release file handles; later calls raise ``StorageUsageError``."""
        ...

    @property
    def last_index(self) -> int:
        """Index of the last stored entry (or of the snapshot when the log is empty)."""
        ...


def check_entries(entries: Sequence[Entry]) -> None:
    """Check that a batch of entries is contiguous.

    Args:
        entries: the batch.

    Raises:
        StorageUsageError: the indexes are not consecutive or start below 1.
    """
    for previous, entry in itertools.pairwise(entries):
        if entry.index != previous.index + 1:
            msg = (
                f"entries passed to save are not contiguous: index {entry.index} "
                f"follows {previous.index}"
            )
            raise StorageUsageError(msg)
    if entries and entries[0].index < 1:
        msg = f"entry indexes start at 1, got {entries[0].index}"
        raise StorageUsageError(msg)
