"""What the Raft core hands its driver: roles, the Ready batch, status snapshots.

Rules: frozen, slotted, keyword-only value types; no IO, no behaviour (the hot
ones get ``messages.fast_init``: a cheaper ``__init__``, the same values).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nodes.raft.messages import (
    NO_NODE,
    Entry,
    HardState,
    Message,
    NodeId,
    ReadState,
    Snapshot,
    fast_init,
)


class Role(enum.Enum):
    """A node's role in the current term."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class SoftState:
    """Volatile state worth logging when it changes: role and known leader."""

    role: Role
    leader_id: NodeId = NO_NODE


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    """One batch of work for the driver. Handle it in this order, then call ``advance``.

    1. Persist ``snapshot`` (if any), ``entries`` and ``hard_state`` (if not None),
       durably (fsync). Storage drops any stored entries with index >=
       ``entries[0].index`` before appending.
    2. Send ``messages`` (only now: they promise what was just persisted).
    3. Restore the state machine from ``snapshot`` (if any), then apply
       ``committed_entries`` in order (NOOP entries carry no command).
    4. Serve ``read_states`` once applied_index >= their index; fail
       ``dropped_reads`` at once.
    5. ``core.advance(ready)``.
    """

    hard_state: HardState | None = None
    """Term, vote and commit, or None when unchanged since the last Ready."""
    entries: tuple[Entry, ...] = ()
    """New log entries to append to stable storage."""
    snapshot: Snapshot | None = None
    """A snapshot received from the leader: persist it, restore the state machine."""
    messages: tuple[Message, ...] = ()
    """Messages to send after everything above is durable."""
    committed_entries: tuple[Entry, ...] = ()
    """Entries to apply to the state machine, in order."""
    read_states: tuple[ReadState, ...] = ()
    """Reads now safe to serve once applied_index >= their index."""
    dropped_reads: tuple[bytes, ...] = ()
    """Contexts of read_index requests that will never complete (fail them fast)."""
    soft_state: SoftState | None = None
    """Role or leader changed (None when unchanged)."""
    warnings: tuple[str, ...] = ()
    """Anomalies the core detected and worked around (e.g. a follower whose storage
    lost entries it had acknowledged): the driver logs each one loudly."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerStatus:
    """The leader's view of one follower."""

    id: NodeId
    match: int
    next: int
    state: str
    """``probe``, ``replicate`` or ``snapshot``."""
    inflight: int
    recent_active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """A snapshot of one node's Raft state (for admin endpoints and tests)."""

    id: NodeId
    role: Role
    term: int
    vote: NodeId
    leader_id: NodeId
    commit_index: int
    applied_index: int
    first_index: int
    last_index: int
    last_term: int
    lead_transferee: NodeId
    progress: tuple[PeerStatus, ...] = ()
    """Per follower, on the leader only (sorted by id)."""
