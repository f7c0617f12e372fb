"""The adaptive election timeout: late-but-arriving heartbeats stretch it, quiet fast links
keep ``election_tick``, and a leader's CheckQuorum window stretches the same way."""

from __future__ import annotations

import itertools
import random

from nodes.raft import Config, Message, MessageType, RaftCore, Role
from nodes.raft.config import MAX_ELECTION_STRETCH

MT = MessageType
ET = 15


def _follower(*, adaptive: bool = True, seed: int = 3) -> RaftCore:
    core = RaftCore(Config(id=1, voters=(1, 2, 3), election_tick=ET, heartbeat_tick=3,
                           adaptive_election=adaptive), random.Random(seed))
    core.step(Message(type=MT.HEARTBEAT, to=1, frm=2, term=1))
    assert (Role.FOLLOWER, 2) == (core.role, core.leader_id)
    return core


def _heartbeats(core: RaftCore, gap: int, count: int) -> bool:
    """Leader 2 sends ``count`` heartbeats ``gap`` ticks apart; whether ``core`` stayed its
    follower throughout."""
    for _ in range(count):
        for _ in range(gap):
            core.tick()
            if core.role is not Role.FOLLOWER:
                return False
        core.step(Message(type=MT.HEARTBEAT, to=1, frm=2, term=1))
    return True


def _ticks_to_campaign(core: RaftCore) -> int:
    for ticks in range(1, 10 * MAX_ELECTION_STRETCH * ET):
        core.tick()
        if core.role is not Role.FOLLOWER:
            return ticks
    raise AssertionError("never campaigned")


def test_fast_heartbeats_keep_the_configured_timeout() -> None:
    """Heartbeats every 3 ticks leave the timeout in [election_tick, 2 x election_tick)."""
    for seed in range(20):
        core = _follower(seed=seed)
        assert _heartbeats(core, 3, 50), f"seed {seed}"
        assert ET <= _ticks_to_campaign(core) < 2 * ET, f"seed {seed}"


def test_late_heartbeats_stretch_the_timeout() -> None:
    """Heartbeats 14, then 20, then 30 ticks apart: the last are beyond every fixed
    timeout (at most 2 x 15 - 1 ticks), yet the adaptive follower never campaigns."""
    for seed in range(20):
        adaptive = _follower(seed=seed)
        fixed = _follower(adaptive=False, seed=seed)
        assert all(_heartbeats(adaptive, gap, 5) for gap in (14, 20, 30)), f"seed {seed}"
        assert not all(_heartbeats(fixed, gap, 5) for gap in (14, 20, 30)), f"seed {seed}"


def test_the_stretch_is_forgotten_on_a_fast_link() -> None:
    """One election_tick of a silence is forgotten per election_tick: after long enough
    on a fast link, the leader's loss is noticed as fast as ever."""
    core = _follower(seed=5)
    assert _heartbeats(core, 14, 3)
    assert _heartbeats(core, 3, 15 * ET // 3 + 5)
    assert ET <= _ticks_to_campaign(core) < 2 * ET


def test_the_stretch_is_bounded() -> None:
    """However long the silences, the timeout stays below 2 x the cap."""
    core = _follower(seed=9)
    assert _heartbeats(core, 14, 1)
    for gap in (27, 50, 90):
        _heartbeats(core, gap, 1)
        if core.role is not Role.FOLLOWER:
            break
    core = _follower(seed=9)
    core._heard_after(10_000)  # the longest silence is capped when used
    assert _ticks_to_campaign(core) < 2 * MAX_ELECTION_STRETCH * ET


def _leader(*, adaptive: bool = True) -> RaftCore:
    core = RaftCore(Config(id=1, voters=(1, 2, 3), election_tick=ET, heartbeat_tick=3,
                           adaptive_election=adaptive), random.Random(1))
    core.campaign()
    for voter in (2, 3):
        core.step(Message(type=MT.PRE_VOTE_RESP, to=1, frm=voter, term=1))
    for voter in (2, 3):
        core.step(Message(type=MT.VOTE_RESP, to=1, frm=voter, term=1))
    assert Role.LEADER is core.role
    return core


def _answers(core: RaftCore, gap: int, count: int) -> bool:
    """Both followers answer every ``gap`` ticks; whether ``core`` stayed leader."""
    for _ in range(count):
        for _ in range(gap):
            core.tick()
            if core.role is not Role.LEADER:
                return False
        for peer in (2, 3):
            core.step(Message(type=MT.HEARTBEAT_RESP, to=1, frm=peer, term=1))
    return True


def test_check_quorum_window_stretches_with_late_answers() -> None:
    """Answers 12 ticks apart, then 22 apart: the adaptive leader stays, the fixed one
    steps down (no answer in a 15-tick window)."""
    adaptive = _leader()
    fixed = _leader(adaptive=False)

    assert _answers(adaptive, 12, 3) and _answers(adaptive, 22, 20)
    assert _answers(fixed, 12, 3)
    assert not _answers(fixed, 22, 20)


def test_an_isolated_leader_still_steps_down() -> None:
    """With no answers at all, a leader steps down within two (unstretched) windows."""
    core = _leader()
    assert _answers(core, 3, 10)
    ticks = 0
    while core.role is Role.LEADER and ticks < 4 * ET:
        core.tick()
        ticks += 1
    assert Role.FOLLOWER is core.role
    assert ticks <= 2 * ET


def test_a_campaign_without_answers_backs_off() -> None:
    """A (pre-)candidate whose votes never come back waits longer each time, up to the cap;
    with a fixed timeout it campaigns every [15, 30) ticks for ever."""
    for adaptive in (True, False):
        core = RaftCore(Config(id=1, voters=(1, 2, 3), election_tick=ET, heartbeat_tick=3,
                               adaptive_election=adaptive), random.Random(4))
        starts = []
        for tick in range(1, 2000):
            core.tick()
            if core.has_ready():
                ready = core.ready()
                core.advance(ready)
                if any(m.type is MT.PRE_VOTE for m in ready.messages):
                    starts.append(tick)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        if adaptive:
            assert max(gaps) >= 2 * MAX_ELECTION_STRETCH * ET // 2, gaps
            assert all(gap < 2 * MAX_ELECTION_STRETCH * ET for gap in gaps), gaps
        else:
            assert all(ET <= gap < 2 * ET for gap in gaps), gaps


def test_a_campaign_refused_by_a_quorum_does_not_back_off() -> None:
    """Answers that come back (a refusal from a node still hearing its leader) are no sign
    of slow links: the next campaign comes as soon as ever (a fast failover)."""
    core = RaftCore(Config(id=1, voters=(1, 2, 3), election_tick=ET, heartbeat_tick=3),
                    random.Random(4))
    for _ in range(5):
        while core.role is Role.FOLLOWER:
            core.tick()
        core.step(Message(type=MT.PRE_VOTE_RESP, to=1, frm=2, term=core.term + 1, reject=True))
        ticks = 0
        while core.role is Role.PRE_CANDIDATE:
            core.tick()
            ticks += 1
        assert ticks < 2 * ET
