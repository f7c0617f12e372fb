"""The root of every error raised by the ``nodes`` package, the Raft core included.

Rules: one small hierarchy; each exception says what was wrong and where, and whose
fault it was (the caller's, the peer's, the disk's). This module imports nothing, so the
Raft core (standard library only) can derive ``RaftError`` from it.
"""

from __future__ import annotations


class NodeError(Exception):
    """Something went wrong in a node: its Raft core, storage, state machine or server."""
