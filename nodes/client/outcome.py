"""What a client call returns: an honest outcome, and the node status shape.

Rules: frozen value types only, no IO. ``status`` follows the history
vocabulary: ``ok`` (took effect), ``fail`` (certainly took no effect, or a read
that observed nothing), ``info`` (a write whose effect is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from nodes.errors import NodeError

T = TypeVar("T")
OutcomeStatus = Literal["ok", "fail", "info"]
Consistency = Literal["linearizable", "stale"]
CONSISTENCIES: tuple[Consistency, ...] = ("linearizable", "stale")


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

    @property
    def leader(self) -> int | None:
        """The leader's id, None when no leader is known."""
        return self.leader_id or None
