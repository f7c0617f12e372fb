"""SimFileSystem loses exactly what was not synced, and fails on demand."""

from __future__ import annotations

import errno
import random
from pathlib import PurePosixPath

import pytest

from nodes.storage import SimFileSystem, SimulatedCrash

DIR = PurePosixPath("/data")


@pytest.fixture(name="fs")
def _fs() -> SimFileSystem:
    fs = SimFileSystem()
    fs.makedirs(DIR)
    return fs


class TestSimFileSystem:
    def test_synced_bytes_survive_a_crash(self, fs: SimFileSystem) -> None:
        """Bytes synced (with the directory entry synced) are there after a crash."""
        handle = fs.open_append(DIR / "a")
        handle.write(b"durable")
        handle.sync()
        fs.sync_dir(DIR)
        handle.write(b"-lost")
        fs.crash()

        assert b"durable" == fs.read(DIR / "a")

    def test_unsynced_directory_entry_is_lost(self, fs: SimFileSystem) -> None:
        """A synced file whose directory entry was never synced vanishes in a crash."""
        handle = fs.open_append(DIR / "a")
        handle.write(b"data")
        handle.sync()
        fs.crash()

        assert [] == fs.listdir(DIR)

    def test_unsynced_rename_reverts(self, fs: SimFileSystem) -> None:
        """A rename not followed by a directory sync is undone by a crash."""
        for name, body in (("dst", b"old"), ("tmp", b"new")):
            handle = fs.open_append(DIR / name)
            handle.write(body)
            handle.sync()
        fs.sync_dir(DIR)
        fs.rename(DIR / "tmp", DIR / "dst")
        fs.crash()

        assert b"old" == fs.read(DIR / "dst")

    def test_torn_write_keeps_a_prefix(self) -> None:
        """With torn writes a crash keeps some prefix of the unsynced bytes, never other bytes."""
        seed = 7
        fs = SimFileSystem(random.Random(seed), torn_writes=True)
        fs.makedirs(DIR)
        handle = fs.open_append(DIR / "a")
        handle.write(b"base")
        handle.sync()
        fs.sync_dir(DIR)
        handle.write(b"0123456789")
        fs.crash()
        after = fs.read(DIR / "a")

        assert after.startswith(b"base"), f"seed={seed}"
        assert (b"base" + b"0123456789").startswith(after), f"seed={seed}"

    def test_injected_sync_failure(self, fs: SimFileSystem) -> None:
        """fail_next('sync') makes the next sync raise EIO and leaves later syncs working."""
        handle = fs.open_append(DIR / "a")
        fs.fail_next("sync")

        with pytest.raises(OSError, match="injected") as caught:
            handle.sync()
        handle.sync()

        assert errno.EIO == caught.value.errno

    def test_crash_after_counts_steps(self, fs: SimFileSystem) -> None:
        """crash_after(2) lets two mutating steps happen and stops the third caller."""
        handle = fs.open_append(DIR / "a")
        fs.crash_after(2)
        handle.write(b"1")

        with pytest.raises(SimulatedCrash):
            handle.write(b"2")

        assert b"12" == fs.read(DIR / "a")
