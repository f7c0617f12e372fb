"""Everything a leader keeps for one term, held in one object.

Rules: no IO; standard library only. ``NodeState._reset`` replaces the whole
object on every role or term change, so nothing a leader kept can outlive its
leadership. Per-term leader state goes here, never into a loose field of the
node: a pending broadcast kept as a loose field once survived a step-down and
made the next ``ready`` look up progress the node no longer had.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nodes.raft.messages import NO_NODE, NodeId
from nodes.raft.progress import Progress
from nodes.raft.readonly import ReadOnly


@dataclass(slots=True)
class Leadership:
    """One leader's per-term state; empty on a node that does not lead."""

    progress: dict[NodeId, Progress] = field(default_factory=dict)
    """Every voter (this node included) → what the leader knows of its log."""
    transferee: NodeId = NO_NODE
    """The node leadership is being handed to (``NO_NODE`` when none)."""
    reads: ReadOnly = field(default_factory=ReadOnly)
    """ReadIndex requests waiting for a heartbeat quorum."""
    deferred_reads: list[tuple[bytes, NodeId]] = field(default_factory=list)
    """Reads (context, requester) waiting for the term's first commit."""
    broadcast_pending: bool = False
    """New entries wait to be sent with the next ``ready``."""
    heartbeat_elapsed: int = 0
    """Ticks since the last heartbeat broadcast."""
