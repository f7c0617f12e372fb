"""Cluster events from successive status readings: role, term and leader changes, nodes
going down and coming back, and what nodes say of their in-node faults (a clock skewed or
reset, disk operations a failpoint hit).

Rules: pure, no IO: ``changes`` compares two readings and returns the events between
them (without times; the caller stamps them with the time of the reading).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from experiments.backends.base import NodeId, NodeState, agreed_leader, node_label


def changes(
    before: Mapping[NodeId, NodeState],
    after: Sequence[NodeState],
    *,
    size: int,
    leader_before: tuple[NodeId, int] | None,
) -> tuple[list[dict[str, Any]], tuple[NodeId, int] | None]:
    """The events between two readings, and the agreed leader (id, term) of the second.

    Args:
        before: the previous reading by node id (empty: the first reading).
        after: the new reading.
        size: the cluster's size (a leader needs a majority of it).
        leader_before: the agreed leader of the previous reading.
    """
    events: list[dict[str, Any]] = []
    for state in after:
        old = before.get(state.id)
        events += _in_node(old, state)
        if old is not None and (old.role, old.term, old.leader) == (
            state.role,
            state.term,
            state.leader,
        ):
            continue
        if old is not None and old.role == "unreachable" and state.role != "unreachable":
            events.append({"type": "node-up", "node": node_label(state.id), "reason": "reachable"})
        if state.role == "unreachable" and (old is None or old.role != "unreachable"):
            events.append(
                {"type": "node-down", "node": node_label(state.id), "reason": "unreachable"}
            )
        events.append(
            {
                "type": "role",
                "node": node_label(state.id),
                "role": state.role,
                "term": state.term,
                "leader": node_label(state.leader),
            }
        )
    agreed = agreed_leader(tuple(after), size)
    leader = None if agreed is None else (agreed.id, agreed.term or 0)
    if leader != leader_before:
        events.append(
            {
                "type": "leader",
                "leader": None if leader is None else node_label(leader[0]),
                "term": None if leader is None else leader[1],
            }
        )
    return events, leader


def _in_node(old: NodeState | None, new: NodeState) -> list[dict[str, Any]]:
    """``clock`` and ``disk`` events: the node reports a clock fault it applied, or disk
    operations a failpoint failed or delayed, since the previous reading (a restarted
    node starts its counters again: only growth counts)."""
    if new.role == "unreachable":
        return []
    node = node_label(new.id)
    events: list[dict[str, Any]] = []
    if new.clock_changes > 0 and new.clock_changes != (0 if old is None else old.clock_changes):
        events.append({"type": "clock", "node": node, "offset_ms": new.clock_offset_ms,
                       "rate": new.clock_rate, "changes": new.clock_changes})
    if new.disk_injected > 0 and new.disk_injected != (0 if old is None else old.disk_injected):
        events.append({"type": "disk", "node": node, "injected": new.disk_injected})
    return events
