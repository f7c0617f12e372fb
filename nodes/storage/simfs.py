"""An in-memory disk for deterministic crash tests: ``SimFileSystem``.

Rules: no real IO, no global randomness (an injected ``random.Random`` only).
Each file tracks its durable bytes (as of its last sync) apart from its
current bytes; each directory tracks its durable entries (as of its last
``sync_dir``) apart from its current ones. ``crash()`` throws away whatever
was not synced; with ``torn_writes`` a random prefix of a file's unsynced
appended bytes survives (a torn tail) and each directory randomly keeps its
unsynced entry changes or not, as a real disk may. Faults can be injected:
the next write or sync fails with ``EIO``, or the process "dies"
(``SimulatedCrash``) after a given number of mutating steps.
"""

from __future__ import annotations

import errno
import random
from pathlib import PurePath, PurePosixPath

import structlog

_log = structlog.get_logger()


class SimulatedCrash(Exception):
    """The simulated process died at a scheduled step (not an ``OSError``)."""


class _Inode:
    """File contents; ``data[:durable_len]`` is what survives a crash.

    Files only grow by appends, and truncation is durable at once, so the
    durable bytes are always a prefix of the current ones: a sync just moves
    ``durable_len`` (no copy, so syncing a large file costs O(1)).
    """

    __slots__ = ("data", "durable_len")

    def __init__(self) -> None:
        self.data = bytearray()
        self.durable_len = 0


class _Dir:
    __slots__ = ("durable", "entries")

    def __init__(self) -> None:
        self.entries: dict[str, _Inode] = {}
        self.durable: dict[str, _Inode] = {}


class SimAppendFile:
    """An ``AppendFile`` on a ``SimFileSystem`` inode."""

    __slots__ = ("_fs", "_inode", "_path")

    def __init__(self, fs: SimFileSystem, inode: _Inode, path: str) -> None:
        self._fs = fs
        self._inode = inode
        self._path = path

    def write(self, data: bytes) -> None:
        """Append ``data`` (lost on crash until synced)."""
        self._fs.before_step("write", self._path)
        self._inode.data += data
        self._fs.after_step()

    def sync(self) -> None:
        """Make the inode's current bytes durable."""
        self._fs.before_step("sync", self._path)
        self._inode.durable_len = len(self._inode.data)
        self._fs.syncs += 1
        self._fs.after_step()

    def close(self) -> None:
        """Nothing to release."""


class SimFileSystem:
    """A deterministic in-memory ``FileSystem`` that can crash and fail on demand.

    Args:
        rng: the randomness used by ``crash`` for torn writes; required for
            ``torn_writes``.
        torn_writes: whether a crash keeps a random prefix of unsynced bytes
            (and randomly keeps or loses unsynced directory changes) instead
            of losing all of them.
    """

    def __init__(self, rng: random.Random | None = None, *, torn_writes: bool = False) -> None:
        if torn_writes and rng is None:
            msg = "SimFileSystem(torn_writes=True) needs an injected rng"
            raise ValueError(msg)
        self._rng = rng
        self._torn = torn_writes
        self._dirs: dict[str, _Dir] = {"/": _Dir()}
        self._fail_next: set[str] = set()
        self._crash_in: int | None = None
        self.steps = 0
        """Mutating steps (write, sync, sync_dir, create, rename, remove, truncate) so far."""
        self.syncs = 0
        """File and directory syncs so far (what an fsync costs on a real disk)."""

    # -- fault injection ------------------------------------------------------------

    def fail_next(self, op: str) -> None:
        """Make the next ``write`` or ``sync`` (file or directory) raise ``OSError(EIO)``.

        Args:
            op: ``"write"`` or ``"sync"``.
        """
        if op not in {"write", "sync"}:
            msg = f"fail_next: op must be 'write' or 'sync', got {op!r}"
            raise ValueError(msg)
        self._fail_next.add(op)

    def crash_after(self, steps: int | None) -> None:
        """Raise ``SimulatedCrash`` right after the next ``steps`` mutating steps (None: never)."""
        self._crash_in = steps

    def before_step(self, op: str, path: str) -> None:
        """Fail the step about to happen when a failure was injected for it."""
        kind = "sync" if op in {"sync", "sync_dir"} else op
        if kind in self._fail_next:
            self._fail_next.discard(kind)
            raise OSError(errno.EIO, f"injected {op} failure", path)

    def after_step(self) -> None:
        """Count a completed step; die when the scheduled crash point is reached."""
        self.steps += 1
        if self._crash_in is not None:
            self._crash_in -= 1
            if self._crash_in <= 0:
                self._crash_in = None
                raise SimulatedCrash(f"simulated crash after step {self.steps}")

    def crash(self) -> None:
        """Lose everything unsynced, as a power cut would (see the module docstring)."""
        self._crash_in = None
        self._fail_next.clear()
        for directory in self._dirs.values():
            keep_new_entries = self._torn and self._rng is not None and self._rng.random() < 0.5
            if not keep_new_entries:
                directory.entries = dict(directory.durable)
            directory.durable = dict(directory.entries)
            for inode in directory.entries.values():
                self._crash_inode(inode)
        _log.debug("simfs_crash", steps=self.steps)

    def _crash_inode(self, inode: _Inode) -> None:
        kept = inode.durable_len
        unsynced = len(inode.data) - kept
        if self._torn and self._rng is not None and unsynced:
            kept += self._rng.randint(0, unsynced)
        del inode.data[kept:]
        inode.durable_len = kept

    def corrupt(self, path: PurePath, offset: int, xor: int = 0x01) -> None:
        """Flip bits of one durable byte (a test helper for bit rot).

        Args:
            path: the file.
            offset: which byte.
            xor: the bits to flip.
        """
        inode = self._inode(path)
        if not 0 <= offset < inode.durable_len:
            msg = f"corrupt: offset {offset} is outside the {inode.durable_len} durable bytes"
            raise ValueError(msg)
        inode.data[offset] ^= xor

    # -- FileSystem -------------------------------------------------------------------

    def open_append(self, path: PurePath) -> SimAppendFile:
        """Open (creating when missing) a file for appending."""
        parent, name = self._split(path)
        directory = self._dir(parent)
        inode = directory.entries.get(name)
        if inode is None:
            self.before_step("create", str(path))
            inode = directory.entries[name] = _Inode()
            self.after_step()
        return SimAppendFile(self, inode, str(path))

    def read(self, path: PurePath) -> bytes:
        """Return a file's current bytes."""
        return bytes(self._inode(path).data)

    def size(self, path: PurePath) -> int:
        """Return a file's current size."""
        return len(self._inode(path).data)

    def exists(self, path: PurePath) -> bool:
        """Whether a file or directory exists at ``path``."""
        if self.is_dir(path):
            return True
        parent, name = self._split(path)
        directory = self._dirs.get(parent)
        return directory is not None and name in directory.entries

    def is_dir(self, path: PurePath) -> bool:
        """Whether ``path`` is a directory."""
        return self._key(path) in self._dirs

    def makedirs(self, path: PurePath) -> None:
        """Create a directory and its parents (durable at once)."""
        posix = PurePosixPath(self._key(path))
        for candidate in [*reversed(posix.parents), posix]:
            key = str(candidate)
            if key in self._dirs:
                continue
            parent, name = self._split(candidate)
            if name in self._dir(parent).entries:
                raise OSError(errno.ENOTDIR, "a file is in the way", key)
            self._dirs[key] = _Dir()

    def listdir(self, path: PurePath) -> list[str]:
        """Return the sorted names (files and subdirectories) in a directory."""
        key = self._key(path)
        directory = self._dir(key)
        subdirs = [
            PurePosixPath(other).name
            for other in self._dirs
            if other != key and str(PurePosixPath(other).parent) == key
        ]
        return sorted([*directory.entries, *subdirs])

    def rename(self, src: PurePath, dst: PurePath) -> None:
        """Move a file entry, replacing ``dst`` (durable after ``sync_dir``)."""
        src_parent, src_name = self._split(src)
        dst_parent, dst_name = self._split(dst)
        inode = self._inode(src)
        self.before_step("rename", str(src))
        del self._dir(src_parent).entries[src_name]
        self._dir(dst_parent).entries[dst_name] = inode
        self.after_step()

    def remove(self, path: PurePath) -> None:
        """Delete a file entry (durable after ``sync_dir``)."""
        parent, name = self._split(path)
        self._inode(path)
        self.before_step("remove", str(path))
        del self._dir(parent).entries[name]
        self.after_step()

    def truncate(self, path: PurePath, size: int) -> None:
        """Cut a file to ``size`` bytes, durably."""
        inode = self._inode(path)
        self.before_step("truncate", str(path))
        del inode.data[size:]
        inode.durable_len = len(inode.data)
        self.after_step()

    def sync_dir(self, path: PurePath) -> None:
        """Make a directory's current entries durable."""
        directory = self._dir(self._key(path))
        self.before_step("sync_dir", str(path))
        directory.durable = dict(directory.entries)
        self.syncs += 1
        self.after_step()

    # -- helpers --------------------------------------------------------------------

    @staticmethod
    def _key(path: PurePath) -> str:
        return str(PurePosixPath("/", PurePosixPath(path)))

    def _split(self, path: PurePath) -> tuple[str, str]:
        posix = PurePosixPath(self._key(path))
        return str(posix.parent), posix.name

    def _dir(self, key: str) -> _Dir:
        directory = self._dirs.get(key)
        if directory is None:
            raise FileNotFoundError(errno.ENOENT, "no such directory", key)
        return directory

    def _inode(self, path: PurePath) -> _Inode:
        parent, name = self._split(path)
        inode = self._dir(parent).entries.get(name)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
        return inode
