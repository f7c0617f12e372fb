"""The simulator's inside view: Election Safety and State Machine Safety."""

from __future__ import annotations

from experiments.sim.invariants import MAX_REPORTED, RaftInvariants
from nodes.raft import Entry, EntryType, Ready, Role, SoftState


def _ready(*, leader_of: int | None = None, entries: tuple[Entry, ...] = ()) -> Ready:
    soft = None if leader_of is None else SoftState(role=Role.LEADER, leader_id=leader_of)
    return Ready(
        hard_state=None,
        entries=(),
        snapshot=None,
        messages=(),
        committed_entries=entries,
        read_states=(),
        dropped_reads=(),
        soft_state=soft,
    )


def _entry(index: int, term: int, data: bytes) -> Entry:
    return Entry(term=term, index=index, type=EntryType.NORMAL, data=data)


class TestElectionSafety:
    def test_two_leaders_of_one_term_are_reported(self) -> None:
        """Two nodes leading the same term break Election Safety."""
        watch = RaftInvariants()

        watch.observe(1, 5, _ready(leader_of=1))
        watch.observe(3, 5, _ready(leader_of=3))

        assert ["election safety: n1 and n3 both led term 5"] == watch.violations

    def test_leaders_of_different_terms_are_fine(self) -> None:
        """One leader per term, and the same node leading again, are normal."""
        watch = RaftInvariants()

        watch.observe(1, 5, _ready(leader_of=1))
        watch.observe(2, 6, _ready(leader_of=2))
        watch.observe(2, 6, _ready(leader_of=2))

        assert [] == watch.violations


class TestStateMachineSafety:
    def test_same_entries_on_every_node_are_fine(self) -> None:
        """Nodes applying identical entries (also again after a restart) break nothing."""
        watch = RaftInvariants()
        entries = (_entry(1, 1, b"a"), _entry(2, 1, b"b"))

        for node in (1, 2, 3, 1):
            watch.observe(node, 1, _ready(entries=entries))

        assert [] == watch.violations

    def test_different_entries_at_one_index_are_reported_once(self) -> None:
        """Two nodes applying different entries at one index is reported, once."""
        watch = RaftInvariants()

        watch.observe(1, 2, _ready(entries=(_entry(7, 2, b"put x=1"),)))
        watch.observe(2, 2, _ready(entries=(_entry(7, 2, b"put x=2"),)))
        watch.observe(3, 2, _ready(entries=(_entry(7, 2, b"put x=2"),)))

        assert 1 == len(watch.violations)
        assert "index 7" in watch.violations[0]
        assert "put x=1" in watch.violations[0]
        assert "put x=2" in watch.violations[0]

    def test_reports_are_bounded(self) -> None:
        """Past MAX_REPORTED violations are counted, not kept."""
        watch = RaftInvariants()
        extra = 5

        for index in range(1, MAX_REPORTED + extra + 1):
            watch.observe(1, 1, _ready(entries=(_entry(index, 1, b"a"),)))
            watch.observe(2, 1, _ready(entries=(_entry(index, 1, b"b"),)))

        assert MAX_REPORTED == len(watch.violations)
        assert extra == watch.dropped
