"""The hard state file (term, vote, commit), replaced atomically.

Rules: the file is rewritten only when term or vote change, never for a
commit-only change. Why that is safe: a commit index can always be learnt
again from the leader, and every WAL record also carries the commit index
known when it was written, so recovery takes the highest commit found in
either place (at least the snapshot index). A commit-only ``Ready`` therefore
costs no fsync at all; the newest commit rides along with the next group
commit. Term and vote are durable before ``save`` returns.
"""

from __future__ import annotations

from pathlib import PurePath

from nodes.raft.messages import HardState
from nodes.storage.atomic import write_atomically
from nodes.storage.codec import PayloadError, decode_hard_state, encode_hard_state
from nodes.storage.fs import FileSystem
from nodes.storage.interface import CorruptLogError

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


def save_hard_state(fs: FileSystem, directory: PurePath, state: HardState, *, sync: bool) -> None:
    """Atomically replace the hard state file (temp, fsync, rename, directory fsync)."""
    write_atomically(fs, directory / HARD_STATE_NAME, encode_hard_state(state), sync=sync)
