"""Cluster events from successive status readings: role, term and leader changes, nodes
going down and coming back.

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
