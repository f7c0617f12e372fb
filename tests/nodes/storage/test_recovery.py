"""Recovery truncates and reports a torn tail, and refuses mid-log corruption."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from structlog.testing import capture_logs

from nodes.raft.messages import Entry, HardState, Snapshot, SnapshotMeta
from nodes.storage import (
    CorruptLogError,
    DroppedTail,
    LostHardStateError,
    SimFileSystem,
    WalStorage,
)
from nodes.storage.codec import RECORD_HEADER, SEGMENT_MAGIC, encode_entries
from nodes.storage.snapshots import snapshot_name

DIR = PurePosixPath("/data/n1")
SEGMENT = DIR / "wal-0000000000000001.log"


def batch(first: int, count: int, term: int = 1) -> list[Entry]:
    """``count`` entries from ``first`` on."""
    return [Entry(term=term, index=i, data=b"d%d" % i) for i in range(first, first + count)]


@pytest.fixture(name="fs")
def _fs() -> SimFileSystem:
    """A disk holding three group commits of three entries each, in one segment."""
    fs = SimFileSystem()
    storage = WalStorage(fs, DIR)
    storage.load()
    for first in (1, 4, 7):
        storage.save(hard_state=HardState(term=1, vote=1), entries=batch(first, 3))
    storage.close()
    return fs


def record_offsets() -> list[int]:
    """Offsets of the three records in the segment (their sizes are known)."""
    sizes = [len(encode_entries(0, batch(first, 3))) for first in (1, 4, 7)]
    offsets = [len(SEGMENT_MAGIC)]
    for size in sizes[:-1]:
        offsets.append(offsets[-1] + size)
    return offsets


class TestTornTail:
    def test_truncated_last_record_is_dropped_and_reported(self, fs: SimFileSystem) -> None:
        """A last record cut short is truncated away; the report names file, offset and bytes."""
        size = fs.size(SEGMENT)
        fs.truncate(SEGMENT, size - 3)
        storage = WalStorage(fs, DIR)
        with capture_logs() as logs:
            restored = storage.load()
        last = record_offsets()[-1]

        assert tuple(batch(1, 6)) == restored.entries
        assert (
            DroppedTail(
                path=str(SEGMENT),
                offset=last,
                bytes_dropped=size - 3 - last,
                reason="record runs past the end of the file",
            ),
        ) == storage.recovery_report.dropped_tails
        assert ["wal_torn_tail_truncated"] == [
            log["event"] for log in logs if log["log_level"] == "warning"
        ]
        assert last == fs.size(SEGMENT)

    def test_bit_flip_in_the_last_record_is_a_corrupt_tail(self, fs: SimFileSystem) -> None:
        """A damaged last record with nothing valid after it is truncated like a torn write."""
        last = record_offsets()[-1]
        fs.corrupt(SEGMENT, last + RECORD_HEADER.size + 4)
        storage = WalStorage(fs, DIR)
        restored = storage.load()

        assert tuple(batch(1, 6)) == restored.entries
        assert "checksum mismatch" == storage.recovery_report.dropped_tails[0].reason

    def test_appends_after_repair_are_recovered(self, fs: SimFileSystem) -> None:
        """After truncating a torn tail, new saves land after the repair point and survive."""
        fs.truncate(SEGMENT, fs.size(SEGMENT) - 1)
        storage = WalStorage(fs, DIR)
        storage.load()
        storage.save(hard_state=HardState(term=2, vote=1), entries=batch(7, 2, term=2))
        fs.crash()
        again = WalStorage(fs, DIR)
        restored = again.load()

        assert (*batch(1, 6), *batch(7, 2, term=2)) == restored.entries
        assert again.recovery_report.clean


class TestMidLogCorruption:
    def test_bit_flip_followed_by_valid_records_refuses(self, fs: SimFileSystem) -> None:
        """A bad record followed by valid ones raises CorruptLogError naming file and offset."""
        first = record_offsets()[0]
        fs.corrupt(SEGMENT, first + RECORD_HEADER.size + 6)
        before = fs.read(SEGMENT)

        with pytest.raises(CorruptLogError) as caught:
            WalStorage(fs, DIR).load()

        assert (str(SEGMENT), first) == (caught.value.path, caught.value.offset)
        assert str(SEGMENT) in str(caught.value)
        assert before == fs.read(SEGMENT)

    def test_damaged_length_field_refuses(self, fs: SimFileSystem) -> None:
        """A corrupted length prefix mid-log is found by scanning for the valid records after it."""
        second = record_offsets()[1]
        fs.corrupt(SEGMENT, second + 1, xor=0x40)

        with pytest.raises(CorruptLogError, match="valid record follows") as caught:
            WalStorage(fs, DIR).load()

        assert second == caught.value.offset

    def test_damage_in_an_older_segment_refuses(self) -> None:
        """Any bad record in a segment that newer segments follow is corruption."""
        fs = SimFileSystem()
        storage = WalStorage(fs, DIR, segment_bytes=64)
        storage.load()
        for first in (1, 4, 7):
            storage.save(hard_state=None, entries=batch(first, 3))
        fs.corrupt(SEGMENT, fs.size(SEGMENT) - 1)

        with pytest.raises(CorruptLogError, match="newer segments follow"):
            WalStorage(fs, DIR).load()

    def test_damaged_hard_state_refuses(self, fs: SimFileSystem) -> None:
        """A hard state file that fails its checksum stops recovery, naming the file."""
        fs.corrupt(DIR / "hardstate", 9)

        with pytest.raises(CorruptLogError, match="hardstate"):
            WalStorage(fs, DIR).load()


class TestSnapshotRecovery:
    def test_corrupt_newest_snapshot_falls_back_when_the_log_covers_it(self) -> None:
        """A damaged newest snapshot is skipped and reported when the log still covers it."""
        fs = SimFileSystem()
        storage = WalStorage(fs, DIR)
        storage.load()
        storage.save(hard_state=HardState(term=1, vote=1), entries=batch(1, 9))
        for index in (2, 4):
            storage.save_snapshot(
                Snapshot(meta=SnapshotMeta(index=index, term=1, voters=(1,)), data=b"s")
            )
        newest = DIR / snapshot_name(4)
        fs.corrupt(newest, 12)
        again = WalStorage(fs, DIR)
        restored = again.load()

        assert 2 == (restored.snapshot.meta.index if restored.snapshot else None)
        assert tuple(batch(3, 7)) == restored.entries
        assert (str(newest),) == tuple(s.path for s in again.recovery_report.skipped_snapshots)

    def test_missing_log_behind_a_lost_snapshot_refuses(self) -> None:
        """When compaction removed entries only a damaged snapshot covered, recovery refuses."""
        fs = SimFileSystem()
        storage = WalStorage(fs, DIR, segment_bytes=64)
        storage.load()
        for first in range(1, 30, 3):
            storage.save(hard_state=None, entries=batch(first, 3))
        storage.save_snapshot(Snapshot(meta=SnapshotMeta(index=27, term=1, voters=(1,))))
        fs.corrupt(DIR / snapshot_name(27), 12)

        with pytest.raises(CorruptLogError, match="covers only up to 0"):
            WalStorage(fs, DIR).load()


class TestLostHardState:
    """A missing or stale hard state file beside a log refuses to start (issue 11, item 4)."""

    def test_deleted_hard_state_refuses_naming_the_file_and_the_remedy(
        self, fs: SimFileSystem
    ) -> None:
        """With the hard state file gone, load raises LostHardStateError and changes nothing."""
        fs.remove(DIR / "hardstate")
        before = {name: fs.read(DIR / name) for name in fs.listdir(DIR)}

        with pytest.raises(LostHardStateError) as caught:
            WalStorage(fs, DIR).load()

        message = str(caught.value)
        assert str(DIR / "hardstate") == caught.value.path
        assert "missing" in message and "term and vote are lost" in message
        assert "restore that file from a backup" in message
        assert before == {name: fs.read(DIR / name) for name in fs.listdir(DIR)}

    def test_hard_state_older_than_the_log_refuses(self) -> None:
        """A hard state file of an older term than the log's newest entry is refused."""
        fs = SimFileSystem()
        storage = WalStorage(fs, DIR)
        storage.load()
        storage.save(hard_state=HardState(term=1, vote=1), entries=batch(1, 3))
        old = fs.read(DIR / "hardstate")
        storage.save(hard_state=HardState(term=2, vote=2), entries=batch(4, 2, term=2))
        storage.close()
        fs.remove(DIR / "hardstate")
        handle = fs.open_append(DIR / "hardstate")
        handle.write(old)
        handle.close()

        with pytest.raises(LostHardStateError, match="says term 1, but the log beside it"):
            WalStorage(fs, DIR).load()

    def test_snapshot_without_hard_state_refuses(self) -> None:
        """A snapshot alone (its log compacted away) also needs its hard state."""
        fs = SimFileSystem()
        storage = WalStorage(fs, DIR)
        storage.load()
        storage.save(hard_state=HardState(term=1, vote=1), entries=batch(1, 3))
        storage.save_snapshot(Snapshot(meta=SnapshotMeta(index=3, term=1, voters=(1,))))
        fs.remove(DIR / "hardstate")

        with pytest.raises(LostHardStateError):
            WalStorage(fs, DIR).load()

    def test_node_that_never_had_a_term_starts(self) -> None:
        """An empty WAL segment and no hard state (crashed before its first term) is fine."""
        fs = SimFileSystem()
        WalStorage(fs, DIR).load()
        fs.crash()

        restored = WalStorage(fs, DIR).load()

        assert (HardState(), None, ()) == (
            restored.hard_state,
            restored.snapshot,
            restored.entries,
        )
