"""Unit behaviour of ``RaftCore``: inputs, the Ready/advance contract and edge cases."""

from __future__ import annotations

import random

import pytest

from nodes.raft import (
    NO_NODE,
    CompactionError,
    Config,
    Entry,
    HardState,
    Message,
    MessageType,
    NotLeader,
    ProposalDropped,
    RaftCore,
    RestoredState,
    RestoreError,
    Role,
    Snapshot,
    SnapshotMeta,
    UnknownNode,
)
from nodes.raft.describe import describe_message
from nodes.raft.testing import Network

MT = MessageType


def _cluster(count: int = 3, seed: int = 0, **options: object) -> Network:
    env = Network(seed)
    env.add_nodes(count, lambda i, voters: Config(id=i, voters=voters, **options))  # type: ignore[arg-type]
    return env


def _settle(env: Network) -> None:
    env.settle(50)


def _elect(env: Network, leader: int = 1) -> RaftCore:
    env.nodes[leader].live.campaign()
    _settle(env)
    return env.nodes[leader].live


def _drain(core: RaftCore) -> list[Message]:
    out: list[Message] = []
    while core.has_ready():
        rd = core.ready()
        out.extend(rd.messages)
        core.advance(rd)
    return out


class TestPropose:
    def test_follower_refuses_with_leader_hint(self) -> None:
        """A follower raises NotLeader naming the leader it knows."""
        env = _cluster()
        _elect(env)
        with pytest.raises(NotLeader) as info:
            env.nodes[2].live.propose(b"x")

        assert 1 == info.value.leader_hint

    def test_leader_assigns_next_index_and_term(self) -> None:
        """The leader appends after its noop and reports (index, term)."""
        env = _cluster()
        leader = _elect(env)

        assert (2, 1) == leader.propose(b"x")

    def test_single_voter_commits_at_once(self) -> None:
        """A one-node cluster elects itself and commits a proposal in the same Ready."""
        core = RaftCore(Config(id=1, voters=(1,)), random.Random(0))
        core.campaign()
        core.propose(b"x")
        rd = core.ready()

        assert (Role.LEADER, [b"", b"x"], [b"", b"x"]) == (
            core.role,
            [e.data for e in rd.entries],
            [e.data for e in rd.committed_entries],
        )

    def test_refused_during_transfer(self) -> None:
        """Proposals are dropped while leadership is being transferred."""
        env = _cluster()
        leader = _elect(env)
        env.crash(3)
        leader.transfer_leader(3)

        with pytest.raises(ProposalDropped):
            leader.propose(b"x")

    def test_transfer_abandoned_after_election_timeout(self) -> None:
        """A transfer to a dead node is abandoned after election_tick ticks."""
        env = _cluster(check_quorum=False)
        leader = _elect(env)
        env.crash(3)
        leader.transfer_leader(3)
        for _ in range(10):
            env.tick(1)

        assert (2, 1) == leader.propose(b"x")

    def test_transfer_to_unknown_node(self) -> None:
        """Naming a node outside the cluster is the caller's error."""
        env = _cluster()
        leader = _elect(env)

        with pytest.raises(UnknownNode):
            leader.transfer_leader(9)


class TestReadIndex:
    def test_no_leader_refuses(self) -> None:
        """A node that knows no leader raises NotLeader without a hint."""
        env = _cluster()
        with pytest.raises(NotLeader) as info:
            env.nodes[1].live.read_index(b"r")

        assert NO_NODE == info.value.leader_hint

    def test_leader_waits_for_a_heartbeat_quorum(self) -> None:
        """No ReadState before a quorum acknowledged the heartbeat; one after."""
        env = _cluster()
        leader = _elect(env)
        leader.read_index(b"r")
        rd = leader.ready()
        env.queue.extend(rd.messages)
        leader.advance(rd)
        _settle(env)

        assert ((), [(b"r", 1)]) == (rd.read_states, env.nodes[1].reads)

    def test_duplicate_context_answered_once(self) -> None:
        """A second read with a pending context joins the first instead of queueing."""
        env = _cluster()
        leader = _elect(env)
        leader.read_index(b"r")
        leader.read_index(b"r")
        _settle(env)

        assert [(b"r", 1)] == env.nodes[1].reads

    def test_read_dropped_when_leader_steps_down(self) -> None:
        """A leader that learns of a newer term drops its pending reads."""
        env = _cluster()
        leader = _elect(env)
        env.process_all()
        env.take(lambda _: True)
        leader.read_index(b"r")
        _drain(leader)
        leader.step(Message(type=MT.HEARTBEAT, to=1, frm=2, term=5))
        rd = leader.ready()

        assert ((b"r",), Role.FOLLOWER) == (rd.dropped_reads, leader.role)

    def test_unsafe_read_answered_without_quorum(self) -> None:
        """With the seeded bug, the leader answers a read with no heartbeat round."""
        env = _cluster(unsafe_leader_read_without_quorum=True)
        leader = _elect(env)
        leader.read_index(b"r")
        rd = leader.ready()

        assert ((b"r", 1), ()) == (
            (rd.read_states[0].context, rd.read_states[0].index),
            tuple(m for m in rd.messages if m.type is MT.HEARTBEAT),
        )


class TestStep:
    def test_message_for_another_node_is_ignored(self) -> None:
        """A message addressed elsewhere changes nothing and produces nothing."""
        core = RaftCore(Config(id=1, voters=(1, 2, 3)), random.Random(0))
        core.step(Message(type=MT.HEARTBEAT, to=2, frm=3, term=7))

        assert (0, False) == (core.term, core.has_ready())

    def test_message_from_non_voter_is_ignored(self) -> None:
        """A message from outside the cluster changes nothing."""
        core = RaftCore(Config(id=1, voters=(1, 2, 3)), random.Random(0))
        core.step(Message(type=MT.HEARTBEAT, to=1, frm=9, term=7))

        assert (0, False) == (core.term, core.has_ready())

    def test_stale_leader_is_told_the_newer_term(self) -> None:
        """An APP from an older term is answered with the current term."""
        core = RaftCore(Config(id=1, voters=(1, 2, 3)), random.Random(0))
        core.step(Message(type=MT.HEARTBEAT, to=1, frm=2, term=4))
        _drain(core)
        core.step(Message(type=MT.APP, to=1, frm=3, term=2))
        sent = _drain(core)

        assert ["1->3 APP_RESP term=4 index=0"] == [describe_message(m) for m in sent]

    def test_leader_lease_ignores_votes(self) -> None:
        """With CheckQuorum a follower that hears its leader ignores a higher-term vote."""
        env = _cluster()
        _elect(env)
        follower = env.nodes[2].live
        follower.step(Message(type=MT.VOTE, to=2, frm=3, term=9, index=9, log_term=9))

        assert (1, 1, []) == (follower.term, follower.leader_id, _drain(follower))

    def test_forced_vote_bypasses_lease(self) -> None:
        """A vote forced by a leadership transfer is considered despite the lease."""
        env = _cluster()
        _elect(env)
        follower = env.nodes[2].live
        follower.step(Message(type=MT.VOTE, to=2, frm=3, term=9, index=9, log_term=9, force=True))

        assert (9, ["2->3 VOTE_RESP term=9 grant"]) == (
            follower.term,
            [describe_message(m) for m in _drain(follower)],
        )

    def test_check_quorum_leader_steps_down_alone(self) -> None:
        """A leader that hears from nobody for an election timeout steps down."""
        env = _cluster()
        leader = _elect(env)
        env.partition([[1], [2, 3]])
        for _ in range(20):
            env.tick(1)
            _settle(env)

        assert Role.FOLLOWER == leader.role


class TestReplication:
    def test_batches_respect_max_entries(self) -> None:
        """No APP carries more than max_entries_per_msg entries."""
        env = _cluster(max_entries_per_msg=2)
        leader = _elect(env)
        for n in range(5):
            leader.propose(b"%d" % n)
        sizes = [len(m.entries) for m in _drain(leader) if m.type is MT.APP]

        assert [2, 2, 1, 2, 2, 1] == sizes

    def test_batches_respect_max_bytes(self) -> None:
        """Entries bigger than max_bytes_per_msg travel one per APP."""
        env = _cluster(max_bytes_per_msg=10)
        leader = _elect(env)
        leader.propose(b"x" * 8)
        leader.propose(b"y" * 8)
        sizes = [len(m.entries) for m in _drain(leader) if m.type is MT.APP and m.to == 2]

        assert [1, 1] == sizes

    def test_inflight_window_limits_pipelining(self) -> None:
        """At most max_inflight_msgs unacknowledged APPs go to one follower."""
        env = _cluster(max_entries_per_msg=1, max_inflight_msgs=2)
        leader = _elect(env)
        for n in range(5):
            leader.propose(b"%d" % n)
        to_two = [m for m in _drain(leader) if m.type is MT.APP and m.to == 2]

        assert 2 == len(to_two)

    def test_status_shows_progress_on_leader(self) -> None:
        """The leader's status lists each follower's match and next index."""
        env = _cluster()
        leader = _elect(env)
        progress = [(p.id, p.match, p.next, p.state) for p in leader.status().progress]

        assert [(2, 1, 2, "replicate"), (3, 1, 2, "replicate")] == progress


class TestCompact:
    def test_beyond_applied_is_refused(self) -> None:
        """Only applied entries can be compacted."""
        env = _cluster()
        leader = _elect(env)
        with pytest.raises(CompactionError):
            leader.compact(5, b"")

    def test_compact_moves_first_index(self) -> None:
        """Compaction drops entries up to the index and returns the snapshot."""
        env = _cluster()
        leader = _elect(env)
        leader.propose(b"x")
        _settle(env)
        snap = leader.compact(2, b"state")

        assert (3, 2, 1, b"state") == (
            leader.first_index,
            snap.meta.index,
            snap.meta.term,
            snap.data,
        )


class TestRestore:
    def test_gap_in_entries_is_refused(self) -> None:
        """Entries that do not follow the snapshot contiguously are the storage's fault."""
        restored = RestoredState(entries=(Entry(term=1, index=2),))
        with pytest.raises(RestoreError):
            RaftCore(Config(id=1, voters=(1, 2, 3)), random.Random(0), restored)

    def test_commit_past_last_entry_is_refused(self) -> None:
        """A commit index beyond the stored log means storage lost entries."""
        restored = RestoredState(hard_state=HardState(term=1, commit=3))
        with pytest.raises(RestoreError):
            RaftCore(Config(id=1, voters=(1, 2, 3)), random.Random(0), restored)

    def test_restart_reapplies_after_snapshot(self) -> None:
        """A restarted node keeps term and vote and re-applies committed entries after
        its snapshot."""
        snap = Snapshot(meta=SnapshotMeta(index=2, term=1, voters=(1, 2, 3)))
        restored = RestoredState(
            hard_state=HardState(term=3, vote=2, commit=4),
            snapshot=snap,
            entries=(Entry(term=1, index=3, data=b"c"), Entry(term=3, index=4, data=b"d")),
        )
        core = RaftCore(Config(id=1, voters=(1, 2, 3)), random.Random(0), restored)
        rd = core.ready()

        assert (3, 3, 4, None, (), [b"c", b"d"]) == (
            core.term,
            core.first_index,
            core.last_index,
            rd.hard_state,
            rd.entries,
            [e.data for e in rd.committed_entries],
        )


class TestReadyContract:
    def test_nothing_is_handed_out_twice(self) -> None:
        """After advance, entries, messages and hard state are not repeated."""
        env = _cluster()
        leader = _elect(env)
        leader.propose(b"x")
        first = leader.ready()
        leader.advance(first)
        second = leader.ready()

        assert (1, (), (), None) == (
            len(first.entries),
            second.entries,
            second.messages,
            second.hard_state,
        )


def _trace(seed: int) -> list[str]:
    env = _cluster(seed=seed)
    lines: list[str] = []
    for _ in range(60):
        for i in sorted(env.nodes):
            env.tick(i)
        for m in env.take(lambda _: True):
            lines.append(describe_message(m))
            env.deliver(m)
        env.process_all()
    return lines


class TestDeterminism:
    def test_same_seed_same_messages(self) -> None:
        """Two runs with one seed produce the same messages, byte for byte."""
        assert _trace(11) == _trace(11)

    def test_seed_changes_election_timing(self) -> None:
        """Different seeds draw different election timeouts (the RNG is really used)."""
        traces = {tuple(_trace(seed)[:3]) for seed in range(6)}

        assert len(traces) > 1
