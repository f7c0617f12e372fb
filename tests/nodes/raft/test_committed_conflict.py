"""A leader's append that contradicts a committed entry stops the follower (issue 11).

Only a safety bug (or storage that changed committed entries) can cause it. Before,
the follower answered with its commit index, the leader backed off below it and
sent the same append again: a loop with no end. Now the core raises
``InvariantViolation`` naming the entry, and the node server stops on it.
"""

from __future__ import annotations

import pytest

from nodes.raft import Config, Entry, InvariantViolation, Message, MessageType, RaftCore
from nodes.raft.testing import Network

MT = MessageType


def _follower_with_commits() -> tuple[RaftCore, int]:
    env = Network(seed=5)
    env.add_nodes(3, lambda i, voters: Config(id=i, voters=voters))
    env.nodes[1].live.campaign()
    assert env.settle(50)
    leader = env.nodes[1].live
    for k in range(3):
        leader.propose(b"c%d" % k)
        assert env.settle(50)
    env.tick(1)  # the heartbeat carries the last commit to the followers
    assert env.settle(50)
    follower = env.nodes[2].live
    assert follower.commit_index == leader.last_index
    return follower, leader.term


class TestConflictBelowCommit:
    def test_prev_entry_of_another_term_at_the_commit_index_raises(self) -> None:
        """An append whose previous entry contradicts our committed one raises, naming both."""
        follower, term = _follower_with_commits()
        commit = follower.commit_index
        forged = Message(
            type=MT.APP, to=2, frm=1, term=term, index=commit, log_term=term + 7, commit=commit
        )

        with pytest.raises(InvariantViolation) as caught:
            follower.step(forged)

        assert (
            f"leader 1 of term {term} says entry {commit} has term {term + 7}, but this node "
            f"committed term {term} there"
        ) in str(caught.value)

    def test_entries_contradicting_committed_ones_raise(self) -> None:
        """An append below the commit that carries other terms for committed entries raises."""
        follower, term = _follower_with_commits()
        rewritten = tuple(Entry(term=term + 1, index=i, data=b"x") for i in (2, 3))
        forged = Message(
            type=MT.APP, to=2, frm=1, term=term, index=1, log_term=term, entries=rewritten
        )

        with pytest.raises(InvariantViolation, match="says entry 2 has term"):
            follower.step(forged)

    def test_agreeing_stale_append_is_answered_with_the_commit(self) -> None:
        """An old append that agrees with the committed log is answered as before."""
        follower, term = _follower_with_commits()
        stale = Message(
            type=MT.APP,
            to=2,
            frm=1,
            term=term,
            index=1,
            log_term=term,
            entries=(Entry(term=term, index=2, data=b"c0"),),
        )

        follower.step(stale)
        rd = follower.ready()

        assert [(MT.APP_RESP, follower.commit_index, False)] == [
            (m.type, m.index, m.reject) for m in rd.messages
        ]
