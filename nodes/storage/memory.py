"""``MemoryStorage``: the ``Storage`` semantics with no disk (the reference model).

Rules: no IO; nothing survives the process. It defines what ``WalStorage``
must recover: tests compare the two after crashes, and unit tests of the
Raft core may use it where durability is beside the point.
"""

from __future__ import annotations

from collections.abc import Sequence

from nodes.raft.messages import Entry, HardState, RestoredState, Snapshot
from nodes.storage.interface import StorageUsageError, check_entries


class MemoryStorage:
    """Hard state, newest snapshot and log after it, kept in memory."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []

    @property
    def snapshot_index(self) -> int:
        """Index of the newest snapshot (0 when none)."""
        return 0 if self.snapshot is None else self.snapshot.meta.index

    @property
    def last_index(self) -> int:
        """Index of the last entry (the snapshot's when the log is empty)."""
        return self.entries[-1].index if self.entries else self.snapshot_index

    def term_at(self, index: int) -> int | None:
        """Term of the entry (or snapshot) at ``index``; None when not held."""
        if self.snapshot is not None and index == self.snapshot.meta.index:
            return self.snapshot.meta.term
        offset = index - self.snapshot_index - 1
        if 0 <= offset < len(self.entries):
            return self.entries[offset].term
        return 0 if index == 0 else None

    def load(self) -> RestoredState:
        """Return the state held."""
        return RestoredState(
            hard_state=self.hard_state, snapshot=self.snapshot, entries=tuple(self.entries)
        )

    def save(self, *, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        """Apply a ``Ready`` batch: new hard state, entries replacing any suffix."""
        check_entries(entries)
        kept = [entry for entry in entries if entry.index > self.snapshot_index]
        if kept and kept[0].index > self.last_index + 1:
            msg = f"save: entries start at {kept[0].index}, the log ends at {self.last_index}"
            raise StorageUsageError(msg)
        if hard_state is not None:
            commit = max(self.hard_state.commit, hard_state.commit)
            self.hard_state = HardState(term=hard_state.term, vote=hard_state.vote, commit=commit)
        if kept:
            del self.entries[kept[0].index - self.snapshot_index - 1 :]
            self.entries.extend(kept)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Keep the entries after the snapshot if the log agrees with it there, else none."""
        meta = snapshot.meta
        if meta.index <= self.snapshot_index:
            return
        keep = meta.index < self.last_index and self.term_at(meta.index) == meta.term
        self.entries = self.entries[meta.index - self.snapshot_index :] if keep else []
        self.snapshot = snapshot
        commit = max(self.hard_state.commit, meta.index)
        self.hard_state = HardState(
            term=self.hard_state.term, vote=self.hard_state.vote, commit=commit
        )

    def close(self) -> None:
        """Nothing to release."""
