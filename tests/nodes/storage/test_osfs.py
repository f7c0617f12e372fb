"""WalStorage over the real disk (OsFileSystem) in a temporary directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nodes.raft.messages import Entry, HardState, Snapshot, SnapshotMeta
from nodes.storage import CorruptLogError, DataDirError, OsFileSystem, WalStorage


def batch(first: int, last: int, term: int) -> list[Entry]:
    """Entries first..last of one term."""
    return [Entry(term=term, index=i, data=b"disk%d" % i) for i in range(first, last + 1)]


class TestOsFileSystem:
    def test_round_trip_on_disk(self, tmp_path: Path) -> None:
        """Saved hard state, entries and snapshot are read back by a new storage object."""
        data_dir = tmp_path / "n1"
        storage = WalStorage(OsFileSystem(), data_dir, segment_bytes=256)
        storage.load()
        storage.save(hard_state=HardState(term=3, vote=2, commit=4), entries=batch(1, 30, 3))
        storage.save_snapshot(Snapshot(meta=SnapshotMeta(index=20, term=3, voters=(1, 2, 3))))
        storage.close()
        restored = WalStorage(OsFileSystem(), data_dir).load()

        assert HardState(term=3, vote=2, commit=20) == restored.hard_state
        assert tuple(batch(21, 30, 3)) == restored.entries

    def test_torn_tail_on_disk_is_truncated(self, tmp_path: Path) -> None:
        """Garbage appended to the newest segment is truncated away on the real disk too."""
        storage = WalStorage(OsFileSystem(), tmp_path)
        storage.load()
        storage.save(hard_state=HardState(term=1, vote=1), entries=batch(1, 3, 1))
        storage.close()
        segment = tmp_path / "wal-0000000000000001.log"
        size = segment.stat().st_size
        with segment.open("ab") as handle:
            handle.write(b"\x10\x00\x00\x00torn")
        again = WalStorage(OsFileSystem(), tmp_path)
        restored = again.load()

        assert tuple(batch(1, 3, 1)) == restored.entries
        assert size == segment.stat().st_size
        assert 8 == again.recovery_report.dropped_tails[0].bytes_dropped

    def test_bit_flip_on_disk_refuses(self, tmp_path: Path) -> None:
        """A flipped byte in the first of two records refuses to start, naming the file."""
        storage = WalStorage(OsFileSystem(), tmp_path)
        storage.load()
        storage.save(hard_state=None, entries=batch(1, 3, 1))
        storage.save(hard_state=None, entries=batch(4, 6, 1))
        storage.close()
        segment = tmp_path / "wal-0000000000000001.log"
        raw = bytearray(segment.read_bytes())
        raw[30] ^= 0xFF
        segment.write_bytes(bytes(raw))

        with pytest.raises(CorruptLogError, match=r"wal-0000000000000001\.log"):
            WalStorage(OsFileSystem(), tmp_path).load()

    def test_file_instead_of_directory(self, tmp_path: Path) -> None:
        """A regular file at the data directory path is refused with its path."""
        target = tmp_path / "n1"
        target.write_text("not a directory")

        with pytest.raises(DataDirError, match="not a directory"):
            WalStorage(OsFileSystem(), target).load()

    @pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
    def test_unwritable_directory(self, tmp_path: Path) -> None:
        """A data directory that cannot be written to is refused with its path."""
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
        try:
            with pytest.raises(DataDirError, match=re.escape(str(target))):
                WalStorage(OsFileSystem(), target).load()
        finally:
            target.chmod(0o700)
