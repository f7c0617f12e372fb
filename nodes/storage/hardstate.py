"""The hard state file (term, vote, commit), replaced atomically.

Rules: the file is rewritten only when term or vote change, never for a
commit-only change. Why that is safe: a commit index can always be learnt
again from the leader, and every WAL record also carries the commit index
known when it was written, so recovery takes the highest commit found in
either place (at least the snapshot index). A commit-only ``Ready`` therefore
costs no fsync at all; the newest commit rides along with the next group
commit. Term and vote are durable before ``save`` returns, and before any entry
of their term is written: a log newer than the hard state beside it (or beside
no hard state at all) means the file was lost, and recovery refuses to start.
"""

from __future__ import annotations

from pathlib import PurePath

from nodes.raft.messages import HardState
from nodes.storage.atomic import write_atomically
from nodes.storage.codec import PayloadError, decode_hard_state, encode_hard_state
from nodes.storage.fs import FileSystem
from nodes.storage.interface import CorruptLogError, LostHardStateError

HARD_STATE_NAME = "hardstate"


def load_hard_state(fs: FileSystem, directory: PurePath) -> HardState:
    """Read the hard state file, or the initial hard state when there is none.

    Raises:
        CorruptLogError: the file exists but fails its checks (it is written
            atomically, so this is bit rot or tampering, not a torn write).
    """
    path = directory / HARD_STATE_NAME
    if not fs.exists(path):
        return HardState()
    try:
        return decode_hard_state(fs.read(path))
    except PayloadError as exc:
        raise CorruptLogError(str(path), 0, str(exc)) from exc


def check_covers_log(
    fs: FileSystem, directory: PurePath, hard: HardState, *, newest_term: int, last_index: int
) -> None:
    """Refuse a hard state that cannot be the one written with the log beside it.

    Args:
        fs: the file system.
        directory: the data directory.
        hard: the hard state loaded (the initial one when the file is missing).
        newest_term: the highest term of any stored entry or snapshot (0 for none).
        last_index: the last stored index, for the message.

    Raises:
        LostHardStateError: the file is missing although the log holds entries or a
            snapshot, or its term is older than the log's newest term.
    """
    if newest_term <= hard.term:
        return
    path = directory / HARD_STATE_NAME
    if not fs.exists(path):
        problem = (
            f"the hard state file is missing, but the log beside it holds entries up to "
            f"index {last_index} of term {newest_term}: this node's term and vote are lost"
        )
    else:
        problem = (
            f"the hard state file says term {hard.term}, but the log beside it holds entries "
            f"of term {newest_term}: the file is older than the log (restored from an old copy?)"
        )
    raise LostHardStateError(str(path), problem)


def save_hard_state(fs: FileSystem, directory: PurePath, state: HardState, *, sync: bool) -> None:
    """Atomically replace the hard state file (temp, fsync, rename, directory fsync)."""
    write_atomically(fs, directory / HARD_STATE_NAME, encode_hard_state(state), sync=sync)
