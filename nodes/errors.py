"""The root of every error raised by the ``nodes`` package (outside the Raft core).

Rules: one small hierarchy; each exception says what was wrong and where.
The Raft core keeps its own ``RaftError`` (``nodes.raft.errors``) so that it
imports nothing but the standard library.
"""

from __future__ import annotations


class NodeError(Exception):
    """Something went wrong in a node's storage, state machine or server."""
