"""Raft's safety properties, watched from inside the simulator.

Rules: pure bookkeeping over what the nodes hand the simulator (each Ready they
finish); no IO, no clocks, no randomness. The history checker judges what
clients saw; this judges what the nodes did, so a violation is caught even
when no client happened to observe it (Jepsen cannot look inside; a simulator
can). Two properties of the Raft paper (Figure 3):

- Election Safety: at most one node becomes leader in a given term;
- State Machine Safety: no two nodes apply different entries at the same index.

Only the first ``MAX_REPORTED`` violations are kept, so memory stays bounded.
"""

from __future__ import annotations

from nodes.raft import Entry, EntryType, Ready, Role

MAX_REPORTED = 10


def _describe(entry: Entry) -> str:
    if entry.type is not EntryType.NORMAL:
        return f"term {entry.term} {entry.type.name.lower()}"
    data = entry.data.decode("utf-8", "replace")
    if len(data) > 80:
        data = data[:77] + "..."
    return f"term {entry.term} {data}"


class RaftInvariants:
    """Collects violations of Election Safety and State Machine Safety."""

    def __init__(self) -> None:
        self._leaders: dict[int, int] = {}
        """term -> the first node seen leading it."""
        self._applied: dict[int, tuple[int, Entry]] = {}
        """index -> (the first node that applied it, the entry)."""
        self._diverged: set[int] = set()
        """Indexes already reported (each once, however many nodes disagree)."""
        self.violations: list[str] = []
        self.dropped = 0
        """Violations beyond ``MAX_REPORTED`` (counted, not kept)."""

    def observe(self, node_id: int, term: int, ready: Ready) -> None:
        """A node finished ``ready`` while in ``term``."""
        soft = ready.soft_state
        if soft is not None and soft.role is Role.LEADER:
            first = self._leaders.setdefault(term, node_id)
            if first != node_id:
                self._report(f"election safety: n{first} and n{node_id} both led term {term}")
        applied = self._applied
        for entry in ready.committed_entries:
            seen = applied.get(entry.index)
            if seen is None:
                applied[entry.index] = (node_id, entry)
                continue
            other_node, other = seen
            if (other.term != entry.term or other.data != entry.data) and (
                entry.index not in self._diverged
            ):
                self._diverged.add(entry.index)
                self._report(
                    f"state machine safety: index {entry.index} applied as "
                    f"[{_describe(other)}] on n{other_node} but [{_describe(entry)}] on n{node_id}"
                )

    def node_stopped(self, node_id: int, error: str) -> None:
        """A node's core found its own state impossible (``InvariantViolation``) and the
        node stopped, as a real one does: only a safety bug gets there."""
        self._report(f"n{node_id} stopped: {error}")

    def _report(self, violation: str) -> None:
        if len(self.violations) < MAX_REPORTED:
            self.violations.append(violation)
        else:
            self.dropped += 1
