"""A follower whose storage lost entries it had acknowledged is repaired, never livelocked
(issue 11, item 4).

A torn WAL tail, truncated on restart, can take entries the follower already
acknowledged. The leader then probed just above the follower's log end forever
(probe at match 21, follower at 20, both burning a core). Now a rejection below
the acknowledged match is ignored (it may be older than the acknowledgement), the
follower proves its loss when a heartbeat's commit lies past its log, and the
leader lowers that follower's match to what it holds and resends; both sides say
so loudly (``Ready.warnings``).
"""

from __future__ import annotations

from dataclasses import replace

from nodes.raft import Config, Message, MessageType, RaftCore, Ready
from nodes.raft.testing import Network

MT = MessageType


def _cluster(**options: object) -> Network:
    env = Network(seed=3)
    env.add_nodes(3, lambda i, voters: Config(id=i, voters=voters, **options))  # type: ignore[arg-type]
    env.nodes[1].live.campaign()
    assert env.settle(50)
    return env


def _commit_writes(env: Network, count: int) -> None:
    for k in range(count):
        env.nodes[1].live.propose(b"w%d" % k)
        assert env.settle(50)


def _lose_tail(env: Network, node: int, count: int) -> None:
    """Crash ``node``, drop its last ``count`` durable entries (a torn tail), restart it.

    As ``WalStorage`` recovery does, the commit index is clamped to the log end.
    """
    env.crash(node)
    storage = env.nodes[node].storage
    del storage.entries[-count:]
    last = storage.entries[-1].index
    storage.hard_state = replace(storage.hard_state, commit=min(storage.hard_state.commit, last))
    env.restart(node)


def _settle_with(env: Network, keep: set[MessageType], rounds: int = 200) -> bool:
    """``Network.settle`` delivering only messages of the ``keep`` types."""
    warnings: list[str] = []
    for _ in range(rounds):
        _process_all(env, warnings)
        if not env.queue:
            return True
        for m in env.take(lambda _: True):
            if m.type in keep:
                env.deliver(m)
    return False


def _process_all(env: Network, warnings: list[str]) -> None:
    for i in sorted(env.nodes):
        core = env.nodes[i].core
        while core is not None and core.has_ready():
            rd = core.ready()
            warnings.extend(rd.warnings)
            env.nodes[i].storage.persist(rd)
            env.queue.extend(rd.messages)
            core.advance(rd)


def _feed(core: RaftCore, inputs: list[Message]) -> tuple[list[str], list[Message]]:
    """Step ``inputs`` into ``core`` and drain its Readies: (warnings, messages)."""
    warnings: list[str] = []
    messages: list[Message] = []
    for m in inputs:
        core.step(m)
    while core.has_ready():
        rd: Ready = core.ready()
        warnings.extend(rd.warnings)
        messages.extend(rd.messages)
        core.advance(rd)
    return warnings, messages


class TestLostTail:
    def test_follower_catches_up_after_losing_acknowledged_entries(self) -> None:
        """After a torn tail the follower gets its lost entries back and the cluster goes quiet."""
        env = _cluster()
        _commit_writes(env, 5)
        _lose_tail(env, 2, 2)
        leader = env.nodes[1].live
        before = env.nodes[2].live.last_index

        for _ in range(3):
            for i in env.nodes:
                env.tick(i)
            assert env.settle(50), "the leader and the follower never went quiet"

        assert (leader.last_index - 2, leader.last_index) == (before, env.nodes[2].live.last_index)
        assert [] == env.violations

    def test_rejected_probes_never_spin_and_a_heartbeat_repairs(self) -> None:
        """Appends alone cannot prove the loss: they go quiet instead of looping hot, and
        the next heartbeat (which shows it) gets the follower its entries back."""
        env = _cluster()
        _commit_writes(env, 5)
        _lose_tail(env, 2, 1)
        leader = env.nodes[1].live
        appends = {MT.APP, MT.APP_RESP}
        for k in range(3):
            leader.propose(b"after%d" % k)
            assert _settle_with(env, appends), f"the leader and follower spun after write {k}"

        env.tick(1)
        assert env.settle(50)

        assert leader.last_index == env.nodes[2].live.last_index
        match = {p.id: p.match for p in leader.status().progress}
        assert {2: leader.last_index, 3: leader.last_index} == match

    def test_stale_rejection_below_match_is_ignored(self) -> None:
        """A reordered rejection older than the follower's acknowledgement (as the simulator
        produces) neither warns, nor lowers the match, nor sends the probe again."""
        env = _cluster()
        _commit_writes(env, 3)
        env.queue.clear()
        leader = env.nodes[1].live
        base = leader.last_index
        for k in range(3):  # three pipelined appends, each in its own Ready
            leader.propose(b"p%d" % k)
            _feed(leader, [])
        term = leader.term

        def answer(index: int, *, reject: bool) -> Message:
            return Message(
                type=MT.APP_RESP,
                to=1,
                frm=2,
                term=term,
                index=index,
                reject=reject,
                reject_hint=index - 1 if reject else 0,
                log_term=term if reject else 0,
            )

        # The follower got the second append first (rejected it), then the first
        # (acknowledged base + 1), then the third (rejected it); the first rejection
        # reaches the leader last.
        _feed(leader, [answer(base + 1, reject=False), answer(base + 2, reject=True)])
        warnings, sent = _feed(leader, [answer(base + 1, reject=True)])
        match = {p.id: (p.match, p.state) for p in leader.status().progress}

        assert ([], [], (base + 1, "probe")) == (warnings, sent, match[2])

    def test_both_sides_warn(self) -> None:
        """The follower warns when a heartbeat shows its loss; the leader when it repairs it."""
        env = _cluster()
        _commit_writes(env, 3)
        _lose_tail(env, 2, 1)
        env.queue.clear()
        leader = env.nodes[1].live
        follower = env.nodes[2].live

        follower_warnings, answers = _feed(follower, _beat(leader, to=2))
        leader_warnings, resent = _feed(leader, answers)

        assert ["leader 1 counts this node as holding index 4 but its log ends at 3"] == [
            w.split(":")[0] for w in follower_warnings
        ]
        assert ["follower 2 holds entries only up to index 3 but had acknowledged up to 4"] == [
            w.split(":")[0] for w in leader_warnings
        ]
        assert [(MT.APP, 3)] == [(m.type, m.index) for m in resent if m.to == 2]

    def test_match_is_never_trusted_above_the_log(self) -> None:
        """A repaired follower's match drops to what it holds until it acknowledges again."""
        env = _cluster()
        _commit_writes(env, 3)
        _lose_tail(env, 2, 2)
        env.queue.clear()
        leader = env.nodes[1].live
        follower = env.nodes[2].live

        _, answers = _feed(follower, _beat(leader, to=2))
        _feed(leader, answers)
        match = {p.id: (p.match, p.state) for p in leader.status().progress}

        assert (follower.last_index, "probe") == match[2]

    def test_heartbeat_within_the_log_is_answered_as_before(self) -> None:
        """A follower that lost nothing answers heartbeats without a warning or a reject."""
        env = _cluster()
        _commit_writes(env, 3)
        env.queue.clear()

        warnings, answers = _feed(env.nodes[2].live, _beat(env.nodes[1].live, to=2))

        assert ([], [False]) == (warnings, [m.reject for m in answers])


def _beat(leader: RaftCore, *, to: int) -> list[Message]:
    """The heartbeat the leader's next heartbeat tick sends to ``to``."""
    _feed(leader, [])
    leader.tick()
    _, out = _feed(leader, [])
    return [m for m in out if m.type is MT.HEARTBEAT and m.to == to]
