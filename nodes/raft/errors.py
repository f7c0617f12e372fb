"""Errors raised by the Raft core, each saying whose fault it is.

Rules: every error derives from ``RaftError``; messages name what was wrong
and where. No IO here.
"""

from __future__ import annotations

from nodes.errors import NodeError
from nodes.raft.messages import NO_NODE, NodeId


class RaftError(NodeError):
    """Root of every error the Raft core raises."""


class ConfigError(RaftError):
    """The caller built an invalid ``Config`` (the caller's fault).

    Args:
        field: the offending field's name.
        problem: what is wrong with its value.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid raft config: {field}: {problem}")


class NotLeader(RaftError):
    """The request needs the leader and this node is not it (nobody's fault: retry there).

    Args:
        leader_hint: the leader this node knows of, or ``NO_NODE`` when none.
    """

    def __init__(self, leader_hint: NodeId) -> None:
        self.leader_hint = leader_hint
        where = "no leader is known" if leader_hint == NO_NODE else f"try node {leader_hint}"
        super().__init__(f"not the leader: {where}")


class ProposalDropped(RaftError):
    """The leader refused a proposal, e.g. during a leadership transfer (retry later).

    Args:
        reason: why the proposal was refused.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"proposal dropped: {reason}")


class CompactionError(RaftError):
    """The application asked to compact the log where it cannot be (the caller's fault).

    Args:
        index: the index the caller asked for.
        problem: why that index cannot be compacted.
    """

    def __init__(self, index: int, problem: str) -> None:
        self.index = index
        self.problem = problem
        super().__init__(f"cannot compact the log at index {index}: {problem}")


class UnknownNode(RaftError):
    """The caller named a node that is not a voter of this cluster (the caller's fault).

    Args:
        node: the id that was named.
        what: the operation that named it.
    """

    def __init__(self, node: NodeId, what: str) -> None:
        self.node = node
        super().__init__(f"{what}: node {node} is not a voter of this cluster")


class RestoreError(RaftError):
    """The ``RestoredState`` handed to the core is inconsistent (the storage's fault).

    Args:
        problem: what is inconsistent.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(f"inconsistent restored state: {problem}")


class InvariantViolation(RaftError):
    """The core found its own state impossible: a bug in the core, or storage that
    handed back something other than what it was given.

    Args:
        problem: which invariant broke, and where.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(f"raft invariant violated: {problem}")
