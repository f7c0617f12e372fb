"""WalStorage persists Ready batches and snapshots and recovers them (over SimFileSystem)."""

from __future__ import annotations

import errno
import re
from pathlib import PurePath, PurePosixPath

import pytest

from nodes.raft.messages import Entry, HardState, Snapshot, SnapshotMeta
from nodes.storage import (
    DataDirError,
    SimFileSystem,
    StorageFailure,
    StorageUsageError,
    SyncPolicy,
    WalStorage,
)
from nodes.storage.simfs import SimAppendFile
from nodes.storage.snapshots import snapshot_name

DIR = PurePosixPath("/data/n1")
TERM_1 = HardState(term=1, vote=1)
"""Term and vote are durable before entries of their term (recovery checks it)."""


def entries(first: int, last: int, term: int, tag: bytes = b"v") -> list[Entry]:
    """Entries ``first..last`` of one term, each carrying ``tag`` and its index."""
    return [Entry(term=term, index=i, data=tag + str(i).encode()) for i in range(first, last + 1)]


def snapshot(index: int, term: int) -> Snapshot:
    """A snapshot at (index, term) with recognisable data."""
    return Snapshot(
        meta=SnapshotMeta(index=index, term=term, voters=(1, 2, 3)), data=b"s%d" % index
    )


def reopen(fs: SimFileSystem, **kwargs: object) -> WalStorage:
    """A fresh WalStorage on the same directory (not loaded)."""
    return WalStorage(fs, DIR, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(name="fs")
def _fs() -> SimFileSystem:
    return SimFileSystem()


@pytest.fixture(name="storage")
def _storage(fs: SimFileSystem) -> WalStorage:
    storage = WalStorage(fs, DIR, segment_bytes=512)
    storage.load()
    return storage


class TestRoundTrip:
    def test_fresh_directory_loads_empty(self, fs: SimFileSystem) -> None:
        """A missing data directory is created and recovers as an empty log."""
        restored = reopen(fs).load()

        assert (HardState(), None, ()) == (
            restored.hard_state,
            restored.snapshot,
            restored.entries,
        )

    def test_saved_state_survives_a_crash(self, fs: SimFileSystem, storage: WalStorage) -> None:
        """Hard state and entries acknowledged by save are recovered after a crash."""
        storage.save(hard_state=HardState(term=2, vote=1, commit=3), entries=entries(1, 5, 2))
        fs.crash()
        restored = reopen(fs).load()

        assert HardState(term=2, vote=1, commit=3) == restored.hard_state
        assert tuple(entries(1, 5, 2)) == restored.entries

    def test_one_fsync_per_save(self, fs: SimFileSystem) -> None:
        """A batch of 64 entries costs one sync, the same as a batch of one."""
        storage = reopen(fs)
        storage.load()
        before = fs.syncs
        storage.save(hard_state=None, entries=entries(1, 64, 1))
        middle = fs.syncs
        storage.save(hard_state=None, entries=entries(65, 65, 1))

        assert [1, 1] == [middle - before, fs.syncs - middle]

    def test_commit_only_change_costs_no_sync(self, fs: SimFileSystem, storage: WalStorage) -> None:
        """A hard state that only advances commit writes nothing."""
        storage.save(hard_state=HardState(term=1, vote=1), entries=entries(1, 3, 1))
        before = fs.steps
        storage.save(hard_state=HardState(term=1, vote=1, commit=3), entries=[])

        assert before == fs.steps

    def test_commit_rides_with_the_next_group_commit(
        self, fs: SimFileSystem, storage: WalStorage
    ) -> None:
        """A lazily kept commit index is recovered once a later batch was saved."""
        storage.save(hard_state=HardState(term=1, vote=1), entries=entries(1, 3, 1))
        storage.save(hard_state=HardState(term=1, vote=1, commit=3), entries=[])
        storage.save(hard_state=None, entries=entries(4, 4, 1))
        fs.crash()

        assert 3 == reopen(fs).load().hard_state.commit

    def test_entries_spanning_segments(self, fs: SimFileSystem, storage: WalStorage) -> None:
        """A log larger than a segment is split over several files and read back whole."""
        for first in range(1, 200, 10):
            storage.save(hard_state=TERM_1, entries=entries(first, first + 9, 1, b"x" * 40))
        fs.crash()
        again = reopen(fs)
        restored = again.load()

        assert tuple(entries(1, 200, 1, b"x" * 40)) == restored.entries
        assert again.wal_segments > 3


class TestSuffixOverwrite:
    def test_overwritten_suffix_is_replaced(self, fs: SimFileSystem, storage: WalStorage) -> None:
        """Entries saved from index i on replace the stored entries from i, also after a crash."""
        storage.save(hard_state=None, entries=entries(1, 6, 1))
        storage.save(hard_state=HardState(term=2, vote=2), entries=entries(4, 5, 2, b"new"))
        fs.crash()
        restored = reopen(fs).load()

        assert (*entries(1, 3, 1), *entries(4, 5, 2, b"new")) == restored.entries

    def test_gap_is_refused(self, storage: WalStorage) -> None:
        """Saving entries that do not follow the log is the caller's error."""
        storage.save(hard_state=None, entries=entries(1, 2, 1))

        with pytest.raises(StorageUsageError, match="gap"):
            storage.save(hard_state=None, entries=entries(4, 4, 1))


class TestCompaction:
    def test_snapshot_drops_old_segments_and_keeps_the_rest(
        self, fs: SimFileSystem, storage: WalStorage
    ) -> None:
        """After a snapshot, old segments are deleted and later entries survive a crash."""
        for first in range(1, 100, 10):
            storage.save(hard_state=TERM_1, entries=entries(first, first + 9, 1, b"x" * 40))
        segments_before = storage.wal_segments
        storage.save_snapshot(snapshot(90, 1))
        fs.crash()
        again = reopen(fs)
        restored = again.load()

        assert snapshot(90, 1) == restored.snapshot
        assert tuple(entries(91, 100, 1, b"x" * 40)) == restored.entries
        assert again.wal_segments < segments_before

    def test_conflicting_snapshot_replaces_the_log(
        self, fs: SimFileSystem, storage: WalStorage
    ) -> None:
        """A snapshot whose term disagrees with the log at its index discards the whole log."""
        storage.save(hard_state=TERM_1, entries=entries(1, 10, 1))
        storage.save(hard_state=HardState(term=3), entries=[])  # the term comes first
        storage.save_snapshot(snapshot(5, 3))
        storage.save(hard_state=None, entries=entries(6, 7, 3))
        fs.crash()
        restored = reopen(fs).load()

        assert (snapshot(5, 3), tuple(entries(6, 7, 3))) == (restored.snapshot, restored.entries)

    def test_only_two_snapshot_files_are_kept(self, fs: SimFileSystem, storage: WalStorage) -> None:
        """Saving a third snapshot deletes the oldest file."""
        storage.save(hard_state=None, entries=entries(1, 30, 1))
        for index in (10, 20, 30):
            storage.save_snapshot(snapshot(index, 1))

        names = [name for name in fs.listdir(DIR) if name.startswith("snap-")]

        assert [snapshot_name(20), snapshot_name(30)] == names

    def test_recovered_commit_is_at_least_the_snapshot(
        self, fs: SimFileSystem, storage: WalStorage
    ) -> None:
        """Recovery never reports a commit index below the snapshot's."""
        storage.save(hard_state=HardState(term=1, vote=1), entries=entries(1, 10, 1))
        storage.save_snapshot(snapshot(8, 1))
        fs.crash()

        assert 8 == reopen(fs).load().hard_state.commit


class TestFailures:
    def test_failed_fsync_poisons_the_storage(self, fs: SimFileSystem, storage: WalStorage) -> None:
        """A failed fsync raises StorageFailure, and so does every later call."""
        fs.fail_next("sync")
        with pytest.raises(StorageFailure, match="save failed"):
            storage.save(hard_state=None, entries=entries(1, 1, 1))

        with pytest.raises(StorageFailure, match="refuses save"):
            storage.save(hard_state=None, entries=entries(1, 1, 1))
        with pytest.raises(StorageFailure, match="refuses save_snapshot"):
            storage.save_snapshot(snapshot(1, 1))

    def test_failed_write_of_hard_state_poisons(
        self, fs: SimFileSystem, storage: WalStorage
    ) -> None:
        """A failed write while replacing the hard state file raises StorageFailure."""
        fs.fail_next("write")

        with pytest.raises(StorageFailure):
            storage.save(hard_state=HardState(term=1, vote=1), entries=[])

    def test_second_load_is_misuse(self, storage: WalStorage) -> None:
        """load may be called once per storage object."""
        with pytest.raises(StorageUsageError, match="called once"):
            storage.load()

    def test_calls_after_close_are_refused(self, storage: WalStorage) -> None:
        """A closed storage refuses save."""
        storage.close()

        with pytest.raises(StorageUsageError, match="closed"):
            storage.save(hard_state=None, entries=[])

    def test_save_before_load_is_misuse(self, fs: SimFileSystem) -> None:
        """save on a storage that was never loaded is a usage error."""
        with pytest.raises(StorageUsageError, match="call load first"):
            reopen(fs).save(hard_state=None, entries=[])


class TestUnsafeNeverPolicy:
    def test_crash_loses_acknowledged_entries(self, fs: SimFileSystem) -> None:
        """With the UNSAFE never-sync policy, a crash loses entries save already acknowledged."""
        storage = reopen(fs, sync=SyncPolicy.UNSAFE_NEVER)
        storage.load()
        storage.save(hard_state=HardState(term=1, vote=1), entries=entries(1, 5, 1))
        fs.crash()
        restored = reopen(fs).load()

        assert (HardState(), ()) == (restored.hard_state, restored.entries)

    def test_the_same_sequence_survives_with_always(self, fs: SimFileSystem) -> None:
        """The same saves under the default policy survive the same crash (the control)."""
        storage = reopen(fs)
        storage.load()
        storage.save(hard_state=HardState(term=1, vote=1), entries=entries(1, 5, 1))
        fs.crash()

        assert tuple(entries(1, 5, 1)) == reopen(fs).load().entries


class ReadOnlySimFileSystem(SimFileSystem):
    """A SimFileSystem on which creating files is not permitted (like a read-only mount)."""

    def open_append(self, path: PurePath) -> SimAppendFile:
        """Refuse, as a directory without write permission would."""
        raise PermissionError(errno.EACCES, "Permission denied", str(path))


class TestDataDirectory:
    def test_unwritable_directory_is_named(self) -> None:
        """A directory where files cannot be created is refused with its path."""
        fs = ReadOnlySimFileSystem()
        fs.makedirs(DIR)

        with pytest.raises(DataDirError, match=re.escape(str(DIR / "wal-0000000000000001.log"))):
            reopen(fs).load()

    def test_file_where_the_directory_should_be(self, fs: SimFileSystem) -> None:
        """A file at the data directory's path is refused, naming the path."""
        fs.makedirs(DIR.parent)
        handle = fs.open_append(DIR)
        handle.write(b"x")

        with pytest.raises(DataDirError, match=re.escape(str(DIR))):
            reopen(fs).load()

    def test_foreign_file_is_refused(self, fs: SimFileSystem) -> None:
        """An unknown file in the data directory stops recovery, naming the file."""
        fs.makedirs(DIR)
        fs.open_append(DIR / "notes.txt")

        with pytest.raises(DataDirError, match=r"notes\.txt"):
            reopen(fs).load()

    def test_leftover_temp_file_is_removed_and_reported(self, fs: SimFileSystem) -> None:
        """A temp file from an interrupted atomic write is removed and listed in the report."""
        fs.makedirs(DIR)
        fs.open_append(DIR / "hardstate.tmp").write(b"half")
        storage = reopen(fs)
        storage.load()

        assert (str(DIR / "hardstate.tmp"),) == storage.recovery_report.removed_temp_files
        assert "hardstate.tmp" not in fs.listdir(DIR)
