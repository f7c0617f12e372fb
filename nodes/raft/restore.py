"""Rebuilding a node's log from what its storage recovered.

Rules: no IO; an inconsistent ``RestoredState`` raises ``RestoreError``
(storage's fault) rather than being patched up silently.
"""

from __future__ import annotations

from nodes.raft.errors import RestoreError
from nodes.raft.log import RaftLog
from nodes.raft.messages import RestoredState


def restore_log(restored: RestoredState) -> RaftLog:
    """Build the log from a snapshot, the entries after it and the hard state's commit.

    The applied cursor starts at the snapshot index: entries after it up to the
    commit index are handed out again for the application to re-apply.

    Raises:
        RestoreError: entries are not contiguous after the snapshot, or the
            commit index points past the last entry.
    """
    snap = restored.snapshot
    base = snap.meta.index if snap is not None else 0
    base_term = snap.meta.term if snap is not None else 0
    for n, e in enumerate(restored.entries, start=base + 1):
        if e.index != n:
            msg = f"entry at position {n - base} has index {e.index}, expected {n}"
            raise RestoreError(msg)
    log = RaftLog(snapshot_index=base, snapshot_term=base_term, entries=restored.entries)
    commit = restored.hard_state.commit
    if commit > log.last_index:
        msg = f"commit index {commit} is past the last stored entry {log.last_index}"
        raise RestoreError(msg)
    log.commit_to(commit)
    return log
