"""Disk failpoints: a ``FileSystem`` that injects faults into another one, as CharybdeFS
does under a real filesystem (the node's ``--failpoints``; never on by default).

Rules: only the failpoint is new; every operation is the wrapped file system's. With
``DiskFault.ERROR`` every mutating operation (write, fsync, create, rename, remove,
truncate, directory sync) fails with ``EIO``; with ``FULL`` writes, fsyncs and creations
fail with ``ENOSPC``; with ``SLOW`` each of them first sleeps ``delay_s`` (in the caller's
thread: the node writes off its event loop). Reads are never touched. Storage turns any
failure into ``StorageFailure``, and the node stops rather than carry on (so a disk error
loses no acknowledged write: nothing was acknowledged that was not durable). ``injected``
counts the operations a failpoint hit: the node's status reports it as the fault's
evidence.
"""

from __future__ import annotations

import enum
import errno
import os
import threading
import time
from collections.abc import Callable
from pathlib import PurePath

from nodes.storage.fs import AppendFile, FileSystem


class DiskFault(enum.StrEnum):
    """What the disk does to the node's writes."""

    NONE = "none"
    ERROR = "error"
    """Writes and fsyncs fail with EIO (a dying disk)."""
    SLOW = "slow"
    """Writes and fsyncs take ``delay_s`` longer (a saturated or degraded disk)."""
    FULL = "full"
    """Writes, fsyncs and creations fail with ENOSPC."""


_FULL_OPS = frozenset({"write", "sync", "create", "makedirs", "truncate"})


class DiskFailpoints:
    """The disk failpoint currently in force (set from the admin failpoint call).

    Args:
        sleep: how ``SLOW`` waits (``time.sleep``; tests inject their own).
    """

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep
        self._lock = threading.Lock()
        self.fault = DiskFault.NONE
        self.delay_s = 0.0
        self.injected = 0
        """Operations a failpoint failed or delayed so far."""

    def set(self, fault: DiskFault, delay_s: float = 0.0) -> None:
        """Put ``fault`` in force (``NONE`` clears it).

        Raises:
            ValueError: a negative or absurd delay for ``SLOW``.
        """
        if fault is DiskFault.SLOW and not 0.0 < delay_s <= 60.0:
            msg = f"a slow disk needs a delay in (0, 60] s, got {delay_s}"
            raise ValueError(msg)
        with self._lock:
            self.fault = fault
            self.delay_s = delay_s if fault is DiskFault.SLOW else 0.0

    def describe(self) -> str:
        """``none``, ``error``, ``full`` or ``slow 200 ms``."""
        if self.fault is DiskFault.SLOW:
            return f"slow {self.delay_s * 1000:g} ms"
        return self.fault.value

    def check(self, operation: str, path: PurePath) -> None:
        """Apply the failpoint to one operation.

        Raises:
            OSError: EIO (``ERROR``) or ENOSPC (``FULL``, for writes and creations).
        """
        fault = self.fault
        if fault is DiskFault.NONE:
            return
        if fault is DiskFault.SLOW:
            with self._lock:
                self.injected += 1
            self._sleep(self.delay_s)
            return
        if fault is DiskFault.FULL and operation not in _FULL_OPS:
            return
        code = errno.EIO if fault is DiskFault.ERROR else errno.ENOSPC
        with self._lock:
            self.injected += 1
        raise OSError(code, f"{os.strerror(code)} (disk failpoint: {operation})", str(path))


class _FaultyAppendFile:
    """An ``AppendFile`` whose writes and syncs pass the failpoint first."""

    __slots__ = ("_failpoints", "_inner", "_path")

    def __init__(self, inner: AppendFile, failpoints: DiskFailpoints, path: PurePath) -> None:
        self._inner = inner
        self._failpoints = failpoints
        self._path = path

    def write(self, data: bytes) -> None:
        self._failpoints.check("write", self._path)
        self._inner.write(data)

    def sync(self) -> None:
        self._failpoints.check("sync", self._path)
        self._inner.sync()

    def close(self) -> None:
        self._inner.close()


class FaultyFileSystem:
    """``inner`` with the node's disk failpoints in front of every mutating operation.

    Args:
        inner: the real (or simulated) file system.
        failpoints: the failpoint state the admin call sets.
    """

    def __init__(self, inner: FileSystem, failpoints: DiskFailpoints) -> None:
        self._inner = inner
        self.failpoints = failpoints

    def open_append(self, path: PurePath) -> AppendFile:
        """Open ``path`` for appending (creating it counts as a write)."""
        if not self._inner.exists(path):
            self.failpoints.check("create", path)
        return _FaultyAppendFile(self._inner.open_append(path), self.failpoints, path)

    def read(self, path: PurePath) -> bytes:
        """Read a file (never faulted)."""
        return self._inner.read(path)

    def size(self, path: PurePath) -> int:
        """A file's size."""
        return self._inner.size(path)

    def exists(self, path: PurePath) -> bool:
        """Whether ``path`` exists."""
        return self._inner.exists(path)

    def is_dir(self, path: PurePath) -> bool:
        """Whether ``path`` is a directory."""
        return self._inner.is_dir(path)

    def makedirs(self, path: PurePath) -> None:
        """Create a directory (faulted)."""
        self.failpoints.check("makedirs", path)
        self._inner.makedirs(path)

    def listdir(self, path: PurePath) -> list[str]:
        """The names in a directory."""
        return self._inner.listdir(path)

    def rename(self, src: PurePath, dst: PurePath) -> None:
        """Rename (faulted)."""
        self.failpoints.check("rename", dst)
        self._inner.rename(src, dst)

    def remove(self, path: PurePath) -> None:
        """Delete a file (faulted)."""
        self.failpoints.check("remove", path)
        self._inner.remove(path)

    def truncate(self, path: PurePath, size: int) -> None:
        """Cut a file (faulted)."""
        self.failpoints.check("truncate", path)
        self._inner.truncate(path, size)

    def sync_dir(self, path: PurePath) -> None:
        """Sync a directory (faulted)."""
        self.failpoints.check("sync", path)
        self._inner.sync_dir(path)
