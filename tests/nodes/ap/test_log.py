"""The ap log: what was appended survives a crash, a torn tail is cut, damage in the middle
is refused, a compaction keeps the live state, a failed write poisons the log."""

from __future__ import annotations

import random
from pathlib import PurePosixPath

import pytest

from nodes.ap import ApLog, Timestamp, Version
from nodes.ap.log import LOG_NAME, MAGIC
from nodes.storage import CorruptLogError, DataDirError, SimFileSystem, StorageFailure

DIR = PurePosixPath("/ap")


def _v(key: str, value: str | None, ms: int) -> Version:
    return Version(key=key, value=value, stamp=Timestamp(ms, 0, 1))


class TestApLog:
    def test_appended_versions_survive_a_crash(self) -> None:
        """Every append is fsynced: a crash keeps it."""
        fs = SimFileSystem()
        log = ApLog(fs, DIR)
        log.load()
        log.append([_v("a", "1", 1), _v("b", None, 2)])
        fs.crash()

        assert [_v("a", "1", 1), _v("b", None, 2)] == ApLog(fs, DIR).load()

    def test_a_torn_tail_is_cut(self) -> None:
        """Half a record at the end (a crash mid-write, no sync) is dropped on load."""
        fs = SimFileSystem(random.Random(3), torn_writes=True)
        log = ApLog(fs, DIR, sync=False)
        log.load()
        log.append([_v("a", "1", 1)])
        fs.crash()

        assert ApLog(fs, DIR).load() in ([], [_v("a", "1", 1)])

    def test_damage_followed_by_good_records_is_refused(self) -> None:
        """A flipped byte in the first record of two is corruption, not a torn tail."""
        fs = SimFileSystem()
        log = ApLog(fs, DIR)
        log.load()
        log.append([_v("a", "1", 1)])
        log.append([_v("b", "2", 2)])
        fs.corrupt(DIR / LOG_NAME, len(MAGIC) + 10)

        with pytest.raises(CorruptLogError, match="corrupt log"):
            ApLog(fs, DIR).load()

    def test_compaction_keeps_the_live_state(self) -> None:
        """After compacting, a reload gives the versions passed in, and appends go on."""
        fs = SimFileSystem()
        log = ApLog(fs, DIR)
        log.load()
        log.append([_v("a", "1", 1)])
        log.append([_v("a", "2", 2)])
        log.compact([_v("a", "2", 2)])
        log.append([_v("b", "3", 3)])

        assert [_v("a", "2", 2), _v("b", "3", 3)] == ApLog(fs, DIR).load()

    def test_a_failed_write_poisons_the_log(self) -> None:
        """An fsync error fails that append and every later one."""
        fs = SimFileSystem()
        log = ApLog(fs, DIR)
        log.load()
        fs.fail_next("sync")
        with pytest.raises(StorageFailure, match="append failed"):
            log.append([_v("a", "1", 1)])

        with pytest.raises(StorageFailure, match="refuses append"):
            log.append([_v("b", "2", 2)])

    def test_a_raft_data_directory_is_refused(self) -> None:
        """Foreign files (a Raft node's WAL) are a DataDirError naming the file."""
        fs = SimFileSystem()
        fs.makedirs(DIR)
        fs.open_append(DIR / "wal-0000000000000001.log").close()

        with pytest.raises(DataDirError, match="foreign file"):
            ApLog(fs, DIR).load()
