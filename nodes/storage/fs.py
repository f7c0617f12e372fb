"""The file-system operations storage needs, and their real implementation.

Rules: storage reaches the disk only through ``FileSystem``, so the simulator
can substitute ``SimFileSystem``. Paths are ``PurePath``s. Every method may
raise ``OSError``; callers turn that into ``StorageFailure``. Nothing here
decides what is durable: callers sync files and directories explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Protocol


class AppendFile(Protocol):
    """A file opened for appending."""

    def write(self, data: bytes) -> None:
        """Append all of ``data`` (not durable until ``sync``)."""
        ...

    def sync(self) -> None:
        """Make the file's contents durable (fsync / fdatasync)."""
        ...

    def close(self) -> None:
        """Release the handle (does not sync)."""
        ...


class FileSystem(Protocol):
    """The operations storage performs on a directory tree."""

    def open_append(self, path: PurePath) -> AppendFile:
        """Open ``path`` for appending, creating it empty when missing.

        A new file's directory entry is durable only after ``sync_dir``.
        """
        ...

    def read(self, path: PurePath) -> bytes:
        """Return the whole contents of a file."""
        ...

    def size(self, path: PurePath) -> int:
        """Return a file's size in bytes."""
        ...

    def exists(self, path: PurePath) -> bool:
        """Whether anything exists at ``path``."""
        ...

    def is_dir(self, path: PurePath) -> bool:
        """Whether ``path`` is a directory."""
        ...

    def makedirs(self, path: PurePath) -> None:
        """Create a directory and its parents (durably)."""
        ...

    def listdir(self, path: PurePath) -> list[str]:
        """Return the sorted names in a directory."""
        ...

    def rename(self, src: PurePath, dst: PurePath) -> None:
        """Atomically replace ``dst`` by ``src`` (durable after ``sync_dir``)."""
        ...

    def remove(self, path: PurePath) -> None:
        """Delete a file (durable after ``sync_dir``)."""
        ...

    def truncate(self, path: PurePath, size: int) -> None:
        """Cut a file to ``size`` bytes and make that durable."""
        ...

    def sync_dir(self, path: PurePath) -> None:
        """Make the directory's entries (creations, renames, removals) durable."""
        ...


class OsAppendFile:
    """An ``AppendFile`` over a POSIX file descriptor."""

    __slots__ = ("_fd",)

    def __init__(self, path: PurePath) -> None:
        self._fd = os.open(Path(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, data: bytes) -> None:
        """Append all of ``data``, looping over short writes."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def sync(self) -> None:
        """fdatasync where available (appends change the size, which it covers), else fsync."""
        if hasattr(os, "fdatasync"):
            os.fdatasync(self._fd)
        else:  # pragma: no cover - macOS
            os.fsync(self._fd)

    def close(self) -> None:
        """Close the descriptor."""
        os.close(self._fd)


class OsFileSystem:
    """``FileSystem`` over the real disk."""

    def open_append(self, path: PurePath) -> AppendFile:
        """Open ``path`` for appending (see ``FileSystem.open_append``)."""
        return OsAppendFile(path)

    def read(self, path: PurePath) -> bytes:
        """Return a file's contents."""
        return Path(path).read_bytes()

    def size(self, path: PurePath) -> int:
        """Return a file's size."""
        return Path(path).stat().st_size

    def exists(self, path: PurePath) -> bool:
        """Whether ``path`` exists."""
        return Path(path).exists()

    def is_dir(self, path: PurePath) -> bool:
        """Whether ``path`` is a directory."""
        return Path(path).is_dir()

    def makedirs(self, path: PurePath) -> None:
        """Create the directory and its parents, syncing the parent."""
        real = Path(path)
        real.mkdir(parents=True, exist_ok=True)
        self.sync_dir(real.parent)

    def listdir(self, path: PurePath) -> list[str]:
        """Return the sorted names in a directory."""
        return sorted(child.name for child in Path(path).iterdir())

    def rename(self, src: PurePath, dst: PurePath) -> None:
        """Atomically replace ``dst`` by ``src``."""
        Path(src).replace(Path(dst))

    def remove(self, path: PurePath) -> None:
        """Delete a file."""
        Path(path).unlink()

    def truncate(self, path: PurePath, size: int) -> None:
        """Cut a file to ``size`` bytes and fsync it."""
        fd = os.open(Path(path), os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)

    def sync_dir(self, path: PurePath) -> None:
        """fsync a directory so that its entries are durable."""
        fd = os.open(Path(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
