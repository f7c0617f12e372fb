"""Rebuild the log from WAL records, in order: ``LogView``.

Rules: pure, no IO. A record of entries starting at index i replaces
whatever the view holds from i on (that is how a suffix overwrite is made
crash-safe: the new record is appended, never written in place). An anchor
record (a snapshot was saved at index s) either keeps the entries after s
or, when the snapshot replaced a conflicting log, clears the view; the
decision was taken when the snapshot was saved and is replayed, not
recomputed. A record that starts past the end of the view leaves a gap: the
view restarts there, and the gap matters only if the snapshot does not cover
it (``missing_after`` says where the view begins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nodes.raft.messages import Entry, SnapshotMeta


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """Where the view had to restart because earlier entries were missing."""

    resumed_at: int
    previous_last: int
    location: str


class LogView:
    """The log as replayed so far: entries after ``start`` (whose term may be unknown)."""

    __slots__ = ("entries", "gap", "start", "start_term")

    def __init__(self) -> None:
        self.start: int | None = None
        self.start_term: int | None = None
        self.entries: list[Entry] = []
        self.gap: Gap | None = None

    @property
    def last_index(self) -> int:
        """Index of the last entry in the view (``start`` when it holds none, 0 when fresh)."""
        if self.entries:
            return self.entries[-1].index
        return self.start or 0

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index``, None when the view does not know it."""
        if self.start is None:
            return 0 if index == 0 else None
        if index == self.start:
            return self.start_term
        offset = index - self.start - 1
        if 0 <= offset < len(self.entries):
            return self.entries[offset].term
        return None

    def apply_entries(self, entries: Sequence[Entry], location: str) -> None:
        """Replay a group commit (contiguous entries; the suffix from the first is replaced).

        Args:
            entries: the record's entries (non-empty).
            location: file and offset, remembered if this record opens a gap.
        """
        first = entries[0].index
        if self.start is None:
            start = self._restart(first)
        elif first > self.last_index + 1:
            self.gap = Gap(resumed_at=first, previous_last=self.last_index, location=location)
            start = self._restart(first)
        else:
            start = self.start
        if first <= start:
            self.entries.clear()
            self.entries.extend(entry for entry in entries if entry.index > start)
            return
        del self.entries[first - start - 1 :]
        self.entries.extend(entries)

    def apply_anchor(self, index: int, term: int, *, keep_suffix: bool) -> None:
        """Replay a snapshot anchor at (index, term).

        An anchor that kept the log's suffix changes nothing in the view: the
        entries it covers stay until the final cut at the snapshot actually
        loaded, so that an older snapshot can stand in for a damaged newer one.
        """
        if keep_suffix and self.start is not None:
            return
        self.entries.clear()
        self.start = index
        self.start_term = term

    def covers(self, meta: SnapshotMeta | None) -> bool:
        """Whether the view joins up with a snapshot (no entries missing after it)."""
        base = 0 if meta is None else meta.index
        return self.start is None or self.start <= base or self.last_index <= base

    def cut_at_snapshot(self, meta: SnapshotMeta) -> bool:
        """Drop what the snapshot covers; returns whether later entries were kept.

        Entries after the snapshot survive only when the view's entry at its
        index has the snapshot's term (or the view cannot tell, starting
        exactly there). Call only when ``covers(meta)``.
        """
        if self.start is None or meta.index >= self.last_index:
            self.entries.clear()
            self.start, self.start_term = meta.index, meta.term
            return False
        term = self.term_at(meta.index)
        keep = term is None or term == meta.term
        if keep:
            del self.entries[: meta.index - self.start]
        else:
            self.entries.clear()
        self.start, self.start_term = meta.index, meta.term
        return keep

    def _restart(self, first: int) -> int:
        self.start = first - 1
        self.start_term = 0 if first == 1 else None
        self.entries.clear()
        return self.start
