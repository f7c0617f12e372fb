"""Value types of the Raft core: log entries, hard state, snapshots, messages.

Rules: frozen, slotted, keyword-only dataclasses with no behaviour beyond
validation; no IO. These shapes are a contract: storage, the gRPC codec and
the simulator build on them, so fields are added, never renamed or removed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

NodeId = int
"""A node's id: a positive integer, unique in the cluster (n1 is 1)."""

NO_NODE: NodeId = 0
"""Stands for "nobody": no vote cast, no leader known."""


class EntryType(enum.Enum):
    """What a log entry carries."""

    NORMAL = "normal"
    """An application command (``data`` is opaque to the core)."""
    NOOP = "noop"
    """The empty entry a new leader appends to commit entries of earlier terms."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One log entry. Indexes start at 1; index 0 / term 0 is the empty log."""

    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class HardState:
    """What must be durable before any message that depends on it is sent.

    ``commit`` need not be synced on its own (it can be recomputed), but term
    and vote must be durable before a vote or an append is acknowledged.
    """

    term: int = 0
    vote: NodeId = NO_NODE
    commit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotMeta:
    """Where a snapshot sits in the log, and the voters it was taken with."""

    index: int
    term: int
    voters: tuple[NodeId, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """A state-machine snapshot covering every entry up to ``meta.index``."""

    meta: SnapshotMeta
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoredState:
    """Everything a node recovers from its storage on start.

    ``entries`` are contiguous and follow ``snapshot.meta.index`` (or start
    at 1 when there is no snapshot).
    """

    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: tuple[Entry, ...] = ()
