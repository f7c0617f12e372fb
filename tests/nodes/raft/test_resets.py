"""Role and term changes leave nothing of the old role behind (issue 11, item 1).

A leader that proposed and then stepped down before its next ``ready`` once kept
its pending broadcast, and ``ready`` raised ``KeyError`` on the progress it no
longer had; on a live node that killed the Ready loop.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nodes.raft import Config, Message, MessageType, RaftCore, Role
from nodes.raft.testing import Network

MT = MessageType


def _leader(count: int = 3) -> tuple[Network, RaftCore]:
    env = Network(seed=0)
    env.add_nodes(count, lambda i, voters: Config(id=i, voters=voters))
    env.nodes[1].live.campaign()
    env.settle(50)
    leader = env.nodes[1].live
    assert Role.LEADER == leader.role
    return env, leader


def _ticks(core: RaftCore, count: int) -> None:
    for _ in range(count):
        core.tick()


# Each way a leader can lose its role between an input and its next ``ready``.
STEP_DOWNS: dict[str, Callable[[RaftCore], object]] = {
    "heartbeat of a newer term": lambda core: core.step(
        Message(type=MT.HEARTBEAT, to=1, frm=2, term=core.term + 1)
    ),
    "append of a newer term": lambda core: core.step(
        Message(type=MT.APP, to=1, frm=3, term=core.term + 1, index=0, log_term=0)
    ),
    "vote request of a newer term": lambda core: core.step(
        Message(type=MT.VOTE, to=1, frm=2, term=core.term + 1, index=99, log_term=99, force=True)
    ),
    "append response of a newer term": lambda core: core.step(
        Message(type=MT.APP_RESP, to=1, frm=2, term=core.term + 1)
    ),
    "check quorum": lambda core: _ticks(core, 2 * 10),
}


class TestStepDownBeforeReady:
    def test_issue_recipe(self) -> None:
        """propose, then a HEARTBEAT of term+1 from 2, then ready: no KeyError, a follower."""
        _, leader = _leader()
        leader.propose(b"x")
        leader.step(Message(type=MT.HEARTBEAT, to=1, frm=2, term=leader.term + 1))

        rd = leader.ready()
        leader.advance(rd)

        assert (Role.FOLLOWER, 2, 2) == (leader.role, leader.term, leader.leader_id)
        assert [] == [m for m in rd.messages if m.type is MT.APP]

    @pytest.mark.parametrize("how", sorted(STEP_DOWNS))
    def test_every_step_down_clears_the_pending_broadcast(self, how: str) -> None:
        """Whatever deposes the leader, its next ready raises nothing and sends no append."""
        _, leader = _leader()
        leader.propose(b"x")
        STEP_DOWNS[how](leader)

        rd = leader.ready()
        leader.advance(rd)

        assert Role.LEADER != leader.role
        assert [] == [m for m in rd.messages if m.type is MT.APP]
        assert not leader.has_ready()

    def test_step_down_then_campaign_starts_clean(self) -> None:
        """A deposed leader that campaigns again carries no progress or transfer of its old term."""
        _, leader = _leader()
        leader.propose(b"x")
        leader.transfer_leader(2)
        leader.step(Message(type=MT.HEARTBEAT, to=1, frm=2, term=leader.term + 1))
        leader.campaign()

        rd = leader.ready()
        leader.advance(rd)
        status = leader.status()

        assert (Role.PRE_CANDIDATE, (), 0) == (
            status.role,
            status.progress,
            status.lead_transferee,
        )
