"""What a client call returns: an honest outcome, and the node status shape.

Rules: frozen value types only, no IO. ``status`` follows the history
vocabulary: ``ok`` (took effect), ``fail`` (certainly took no effect, or a read
that observed nothing), ``info`` (a write whose effect is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from nodes.errors import NodeError
from nodes.kv.commands import READ_CONSISTENCIES, ReadConsistency

T = TypeVar("T")
OutcomeStatus = Literal["ok", "fail", "info"]
Consistency = ReadConsistency
CONSISTENCIES = READ_CONSISTENCIES


class InvalidRequest(NodeError, ValueError):
    """The caller asked for something the client cannot send (the caller's fault)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome(Generic[T]):
    """The result of one client operation.

    ``value``: what a get read (None: absent), the current value a failed cas found,
    or the status of a node; ``error``: why it failed or is unknown (``"mismatch"``
    for a cas that found another value); ``node``: the address that answered last.
    """

    status: OutcomeStatus
    value: T
    error: str | None = None
    node: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the operation certainly took effect."""
        return self.status == "ok"


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerView:
    """What a node says about one of its peers."""

    id: int
    address: str
    match: int
    next: int
    state: str
    dropped: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeView:
    """What a node says about itself (Admin.Status)."""

    id: int
    address: str
    role: str
    term: int
    leader_id: int
    leader_address: str
    commit_index: int
    applied_index: int
    first_index: int
    last_index: int
    log_size: int
    snapshot_index: int
    unsafe_no_sync: bool
    peers: tuple[PeerView, ...] = ()
    consistency: str = "cp"
    """cp / lease / stale / ap (the unsafe ones give up linearizability)."""
    clock_offset_ms: int = 0
    """The node's clock minus true time (a clock failpoint)."""
    clock_rate: float = 1.0
    clock_changes: int = 0
    """Clock failpoints applied so far."""
    disk_fault: str = "none"
    disk_injected: int = 0
    """Disk operations a failpoint failed or delayed so far."""
    failpoints: bool = False

    @property
    def leader(self) -> int | None:
        """The leader's id, None when no leader is known."""
        return self.leader_id or None


@dataclass(frozen=True, slots=True, kw_only=True)
class FailpointRequest:
    """In-node faults to put in force (``chaoslab admin failpoint``; every field optional).

    ``clock_reset`` happens first, then the jump, then the rate; ``disk`` is ``none``,
    ``error``, ``slow`` (with ``disk_delay_ms``) or ``full``.
    """

    clock_jump_ms: int | None = None
    clock_rate: float | None = None
    clock_reset: bool = False
    disk: str | None = None
    disk_delay_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FailpointState:
    """What a node's failpoints are after a failpoint call."""

    clock_offset_ms: int
    clock_rate: float
    disk: str
    disk_injected: int
