"""Crash-safe storage for a Raft node: WAL segments, hard state, snapshots.

Rules: import from here, not from the submodules. ``WalStorage`` over
``OsFileSystem`` is the real thing; over ``SimFileSystem`` it is the
deterministic disk of the simulator and the crash tests.
"""

from nodes.storage.fs import AppendFile, FileSystem, OsFileSystem
from nodes.storage.interface import (
    CorruptLogError,
    DataDirError,
    DroppedTail,
    LostHardStateError,
    RecoveryReport,
    SkippedSnapshot,
    Storage,
    StorageError,
    StorageFailure,
    StorageUsageError,
    SyncPolicy,
)
from nodes.storage.memory import MemoryStorage
from nodes.storage.simfs import SimFileSystem, SimulatedCrash
from nodes.storage.walstorage import DEFAULT_SEGMENT_BYTES, WalStorage

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "AppendFile",
    "CorruptLogError",
    "DataDirError",
    "DroppedTail",
    "FileSystem",
    "LostHardStateError",
    "MemoryStorage",
    "OsFileSystem",
    "RecoveryReport",
    "SimFileSystem",
    "SimulatedCrash",
    "SkippedSnapshot",
    "Storage",
    "StorageError",
    "StorageFailure",
    "StorageUsageError",
    "SyncPolicy",
    "WalStorage",
]
