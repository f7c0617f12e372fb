"""Disk failpoints: errors and a full disk fail mutating operations (never reads), a slow disk
delays them, and every hit is counted; storage turns a hit into StorageFailure."""

from __future__ import annotations

import errno
from pathlib import PurePosixPath

import pytest

from nodes.raft import Entry, HardState
from nodes.storage import SimFileSystem, StorageFailure, WalStorage
from nodes.storage.faults import DiskFailpoints, DiskFault, FaultyFileSystem

DIR = PurePosixPath("/d")


def _disk() -> tuple[FaultyFileSystem, DiskFailpoints, list[float]]:
    slept: list[float] = []
    failpoints = DiskFailpoints(sleep=slept.append)
    return FaultyFileSystem(SimFileSystem(), failpoints), failpoints, slept


class TestDiskFailpoints:
    def test_healthy_disk_passes_everything_through(self) -> None:
        """With no fault a write and a read go through untouched."""
        fs, failpoints, _ = _disk()
        fs.makedirs(DIR)
        handle = fs.open_append(DIR / "f")
        handle.write(b"abc")
        handle.sync()

        assert (b"abc", 0) == (fs.read(DIR / "f"), failpoints.injected)

    def test_error_fails_writes_with_eio(self) -> None:
        """A failing disk raises EIO on the next write and counts it."""
        fs, failpoints, _ = _disk()
        fs.makedirs(DIR)
        handle = fs.open_append(DIR / "f")
        failpoints.set(DiskFault.ERROR)

        with pytest.raises(OSError, match="disk failpoint") as raised:
            handle.write(b"x")
        assert (errno.EIO, 1) == (raised.value.errno, failpoints.injected)

    def test_full_disk_fails_writes_with_enospc_but_not_removals(self) -> None:
        """ENOSPC on writes; a removal still works (it frees space)."""
        fs, failpoints, _ = _disk()
        fs.makedirs(DIR)
        fs.open_append(DIR / "f").close()
        failpoints.set(DiskFault.FULL)
        fs.remove(DIR / "f")

        with pytest.raises(OSError) as raised:
            fs.open_append(DIR / "g")
        assert errno.ENOSPC == raised.value.errno

    def test_slow_disk_delays_each_write_and_sync(self) -> None:
        """A slow disk sleeps its delay before each mutating operation."""
        fs, failpoints, slept = _disk()
        fs.makedirs(DIR)
        handle = fs.open_append(DIR / "f")
        failpoints.set(DiskFault.SLOW, 0.25)
        handle.write(b"x")
        handle.sync()

        assert ([0.25, 0.25], 2) == (slept, failpoints.injected)

    def test_reads_are_never_faulted(self) -> None:
        """Even a failing disk reads what is on it."""
        fs, failpoints, _ = _disk()
        fs.makedirs(DIR)
        handle = fs.open_append(DIR / "f")
        handle.write(b"kept")
        failpoints.set(DiskFault.ERROR)

        assert b"kept" == fs.read(DIR / "f")

    def test_a_slow_disk_needs_a_delay(self) -> None:
        """SLOW without a positive delay is refused."""
        with pytest.raises(ValueError, match="slow disk needs a delay"):
            DiskFailpoints().set(DiskFault.SLOW, 0.0)

    def test_storage_stops_on_a_failing_disk(self) -> None:
        """The WAL over a failing disk raises StorageFailure: the node must stop."""
        fs, failpoints, _ = _disk()
        storage = WalStorage(fs, DIR)
        storage.load()
        failpoints.set(DiskFault.ERROR)

        with pytest.raises(StorageFailure):
            storage.save(hard_state=HardState(term=1, vote=1, commit=0),
                         entries=(Entry(term=1, index=1, data=b"x"),))
