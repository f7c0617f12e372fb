"""The in-memory Raft log: entries after a snapshot point, commit and apply cursors.

Rules: no IO; indexes only move the way Raft allows (commit never goes back,
only uncommitted entries are truncated). Lookups are O(1) list arithmetic; the
log is never re-scanned on the hot path.
"""

from __future__ import annotations

from nodes.raft.errors import InvariantViolation
from nodes.raft.messages import Entry, SnapshotMeta


class RaftLog:
    """Entries ``offset + 1 .. last_index`` plus the (index, term) of the snapshot point.

    ``committed`` and ``applied`` are cursors; entries from ``unstable`` on have
    not been handed to storage yet.

    Args:
        snapshot_index: index of the last entry covered by a snapshot (0 for none).
        snapshot_term: term of that entry (0 for none).
        entries: the entries following the snapshot point, contiguous.
    """

    __slots__ = ("_entries", "_offset", "_offset_term", "applied", "committed", "unstable")

    def __init__(
        self, snapshot_index: int = 0, snapshot_term: int = 0, entries: tuple[Entry, ...] = ()
    ) -> None:
        self._offset = snapshot_index
        self._offset_term = snapshot_term
        self._entries: list[Entry] = list(entries)
        self.committed = snapshot_index
        self.applied = snapshot_index
        self.unstable = snapshot_index + len(self._entries) + 1

    @property
    def first_index(self) -> int:
        """The first index still held (one past the snapshot point)."""
        return self._offset + 1

    @property
    def last_index(self) -> int:
        """The last index held (the snapshot index when no entries follow it)."""
        return self._offset + len(self._entries)

    @property
    def snapshot_index(self) -> int:
        """The index the log was last compacted (or restored) to."""
        return self._offset

    def last_term(self) -> int:
        """The term of the last entry (or of the snapshot point)."""
        entries = self._entries
        return entries[-1].term if entries else self._offset_term

    def term(self, index: int) -> int | None:
        """The term at ``index``, or None when it was compacted away or is beyond the end."""
        pos = index - self._offset
        if pos == 0:
            return self._offset_term
        if 0 < pos <= len(self._entries):
            return self._entries[pos - 1].term
        return None

    def match_term(self, index: int, term: int) -> bool:
        """Whether the entry at ``index`` has ``term``."""
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Whether a log ending at (last_index, last_term) is at least as up to date as ours."""
        mine = self.last_term()
        return last_term > mine or (last_term == mine and last_index >= self.last_index)

    def entry(self, index: int) -> Entry:
        """The entry at ``index`` (which must be held)."""
        return self._entries[index - self._offset - 1]

    def slice(self, lo: int, hi: int, max_count: int, max_bytes: int) -> tuple[Entry, ...]:
        """Entries ``lo .. hi-1`` (held), at most ``max_count`` and about ``max_bytes``.

        The first entry is always included, even when bigger than ``max_bytes``.
        """
        start = lo - self._offset - 1
        stop = min(hi - self._offset - 1, start + max_count)
        chunk = self._entries[start:stop]
        size = 0
        for n, e in enumerate(chunk):
            size += len(e.data)
            if size > max_bytes and n > 0:
                return tuple(chunk[:n])
        return tuple(chunk)

    def append(self, entry: Entry) -> None:
        """Append one entry right after the last (the leader's own proposals)."""
        self._entries.append(entry)

    def maybe_append(
        self, prev_index: int, prev_term: int, commit: int, entries: tuple[Entry, ...]
    ) -> int | None:
        """Append a leader's entries after (prev_index, prev_term) if that entry matches.

        Conflicting (uncommitted) entries are truncated; entries already held are kept.

        Returns:
            The index of the last new entry, or None when the previous entry does not match.

        Raises:
            InvariantViolation: the leader's entries conflict with a committed entry.
        """
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        for e in entries:
            t = self.term(e.index)
            if t == e.term:
                continue
            if t is not None and e.index <= self.committed:
                msg = f"leader's entry {e.index} conflicts with our committed entry"
                raise InvariantViolation(msg)
            self._truncate_and_append(entries[e.index - entries[0].index :])
            break
        self.commit_to(min(commit, last_new))
        return last_new

    def check_committed(
        self, prev_index: int, prev_term: int, entries: tuple[Entry, ...], source: str
    ) -> None:
        """Check that a leader's append agrees with every entry we committed.

        A committed entry is on every later leader's log (Leader Completeness), so a
        disagreement means a safety bug or storage that changed committed entries;
        answering it would make the leader back off below our commit forever.

        Raises:
            InvariantViolation: the append claims another term at a committed index.
        """
        committed = self.committed
        claims = [(prev_index, prev_term), *((e.index, e.term) for e in entries)]
        for index, term in claims:
            if index > committed:
                continue
            mine = self.term(index)
            if mine is not None and mine != term:
                msg = (
                    f"{source} says entry {index} has term {term}, but this node committed "
                    f"term {mine} there (a safety bug, or storage that changed committed "
                    "entries); this node must stop"
                )
                raise InvariantViolation(msg)

    def _truncate_and_append(self, entries: tuple[Entry, ...]) -> None:
        first = entries[0].index
        del self._entries[first - self._offset - 1 :]
        self._entries.extend(entries)
        self.unstable = min(self.unstable, first)

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest index <= ``index`` whose term is <= ``term``, with its term.

        Used for fast back-off: everything after it in one conflicting term is skipped.
        Stops at the snapshot point (returned with term 0 when below it).
        """
        index = min(index, self.last_index)
        while True:
            t = self.term(index)
            if t is None:
                return index, 0
            if t <= term or index <= self._offset:
                return index, t
            index -= 1

    def commit_to(self, index: int) -> None:
        """Move the commit cursor forward (never back, never past the last index)."""
        if index > self.committed:
            self.committed = min(index, self.last_index)

    def unstable_entries(self) -> tuple[Entry, ...]:
        """Entries not yet handed to storage."""
        start = self.unstable - self._offset - 1
        return tuple(self._entries[start:]) if start < len(self._entries) else ()

    def stable_to(self, index: int, term: int) -> None:
        """Storage holds everything up to (index, term): stop handing those entries out."""
        if self.match_term(index, term) and index >= self.unstable:
            self.unstable = index + 1

    def next_committed(self) -> tuple[Entry, ...]:
        """Committed entries not yet applied, in order."""
        if self.committed <= self.applied:
            return ()
        off = self._offset
        return tuple(self._entries[self.applied - off : self.committed - off])

    def applied_to(self, index: int) -> None:
        """The application applied everything up to ``index``."""
        self.applied = max(self.applied, index)

    def compact(self, index: int) -> None:
        """Drop the entries up to ``index`` (held and applied): a snapshot now covers them."""
        term = self.term(index)
        if term is None:
            msg = f"compact({index}) outside the log {self.first_index}..{self.last_index}"
            raise InvariantViolation(msg)
        del self._entries[: index - self._offset]
        self._offset = index
        self._offset_term = term

    def restore(self, meta: SnapshotMeta) -> None:
        """Replace the whole log by a snapshot point (snapshot install on a follower)."""
        self._entries = []
        self._offset = meta.index
        self._offset_term = meta.term
        self.committed = meta.index
        self.applied = meta.index
        self.unstable = meta.index + 1
