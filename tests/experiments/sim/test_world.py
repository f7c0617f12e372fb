"""The simulated world: clock, network and cluster lifecycle."""

from __future__ import annotations

import random
from collections.abc import Sequence

from experiments.sim.cluster import CrashPoint, SimCluster
from experiments.sim.events import NS_PER_MS, NS_PER_S, Scheduler
from experiments.sim.network import LinkConditions, SimNetwork
from nodes.kv import Put
from nodes.raft import Entry, HardState, Message, MessageType
from proxy.grudge import Grudge, isolate, one_way


class TestScheduler:
    def test_runs_in_time_then_insertion_order(self) -> None:
        """Events run by time; ties run in the order they were scheduled."""
        scheduler = Scheduler()
        seen: list[str] = []
        scheduler.call_at(20, lambda: seen.append("c"))
        scheduler.call_at(10, lambda: seen.append("a"))
        scheduler.call_at(10, lambda: seen.append("b"))

        scheduler.run_until(15)

        assert ["a", "b"] == seen
        assert 15 == scheduler.now

    def test_cancelled_timer_never_runs(self) -> None:
        """A cancelled event is skipped."""
        scheduler = Scheduler()
        seen: list[int] = []
        timer = scheduler.call_later(5, lambda: seen.append(1))
        timer.cancel()

        scheduler.run_until(10)

        assert [] == seen

    def test_event_budget_stops_a_spinning_run(self) -> None:
        """An event that keeps rescheduling itself is stopped by ``max_events``."""
        scheduler = Scheduler()

        def spin() -> None:
            scheduler.post_later(0, spin)

        scheduler.post_later(1, spin)

        finished = scheduler.run_until(NS_PER_S, max_events=1_000)

        assert finished is False
        assert 1_000 == scheduler.events
        assert scheduler.now < NS_PER_S

    def test_within_budget_the_clock_reaches_the_end(self) -> None:
        """A run that stays within its budget reports that it got to ``until``."""
        scheduler = Scheduler()
        seen: list[int] = []
        scheduler.post_at(3, lambda: seen.append(3))

        assert scheduler.run_until(10, max_events=5) is True
        assert [3] == seen
        assert 10 == scheduler.now


def _network(**conditions: float) -> tuple[Scheduler, SimNetwork[str], list[tuple[int, int, str]]]:
    scheduler = Scheduler()
    got: list[tuple[int, int, str]] = []
    network: SimNetwork[str] = SimNetwork(
        scheduler=scheduler,
        rng=random.Random(1),
        deliver=lambda src, dst, payload: got.append((src, dst, payload)),
        default=LinkConditions(latency=NS_PER_MS, jitter=0, **conditions),
    )
    return scheduler, network, got


class TestNetwork:
    def test_cut_link_drops_one_way_only(self) -> None:
        """A one-way cut drops src->dst and keeps dst->src."""
        scheduler, network, got = _network()
        network.grudge = one_way(1, 2)

        network.send(1, 2, "lost")
        network.send(2, 1, "kept")
        scheduler.run_until(NS_PER_S)

        assert [(2, 1, "kept")] == got

    def test_in_flight_message_dropped_when_cut_starts(self) -> None:
        """A message already on the wire is lost if its link is cut before it arrives."""
        scheduler, network, got = _network()
        network.send(1, 2, "in flight")
        network.grudge = isolate(2, [1, 2, 3])

        scheduler.run_until(NS_PER_S)
        network.grudge = Grudge()

        assert [] == got
        assert 1 == network.stats.dropped

    def test_duplicates_are_delivered_twice(self) -> None:
        """With duplicate probability 1 every message arrives twice."""
        scheduler, network, got = _network(duplicate=1.0)

        network.send(1, 2, "x")
        scheduler.run_until(NS_PER_S)

        assert [(1, 2, "x"), (1, 2, "x")] == got


class TestCluster:
    def test_elects_a_leader_and_survives_a_crash(self) -> None:
        """A 3-node cluster elects a leader, and another one after the leader crashes."""
        scheduler = Scheduler()
        cluster = SimCluster(3, seed=5, scheduler=scheduler)
        scheduler.run_until(2 * NS_PER_S)
        first = cluster.leader()
        assert first is not None

        cluster.crash(first)
        scheduler.run_until(4 * NS_PER_S)
        second = cluster.leader()

        assert second is not None
        assert first != second
        cluster.restart(first)
        scheduler.run_until(6 * NS_PER_S)
        assert cluster.nodes[first].up

    def test_paused_node_gets_its_messages_on_resume(self) -> None:
        """Messages to a paused node wait in its inbox and are delivered when it resumes."""
        scheduler = Scheduler()
        cluster = SimCluster(3, seed=6, scheduler=scheduler)
        scheduler.run_until(2 * NS_PER_S)
        leader = cluster.leader()
        assert leader is not None
        follower = next(n for n in cluster.voters if n != leader)

        cluster.pause(follower)
        scheduler.run_until(3 * NS_PER_S)
        waiting = len(cluster.nodes[follower].inbox)
        cluster.resume(follower)

        assert waiting > 0
        assert [] == cluster.nodes[follower].inbox

    def test_crash_after_vote_fires_when_the_node_grants_one(self) -> None:
        """A node armed with AFTER_VOTE crashes right after its next vote grant, and the
        grant still reaches the candidate."""
        scheduler = Scheduler()
        cluster = SimCluster(3, seed=6, scheduler=scheduler)
        scheduler.run_until(2 * NS_PER_S)
        leader = cluster.leader()
        assert leader is not None
        followers = [n for n in cluster.voters if n != leader]
        for follower in followers:
            cluster.arm_crash(follower, CrashPoint.AFTER_VOTE)

        cluster.crash(leader)
        scheduler.run_until(4 * NS_PER_S)

        assert cluster.crashes >= 2  # the leader, then at least one voter
        assert cluster.leader() in followers
        assert not cluster.invariants.violations

    def test_leading_trap_sees_every_new_leader_with_fresh_entries(self) -> None:
        """``leading_trap`` is called when a node leads with fresh entries to send."""
        scheduler = Scheduler()
        cluster = SimCluster(3, seed=7, scheduler=scheduler)
        trapped: list[int] = []
        cluster.leading_trap = trapped.append

        scheduler.run_until(2 * NS_PER_S)

        assert trapped
        assert trapped[0] == cluster.leader()

    def test_inputs_during_an_fsync_join_the_next_batch(self) -> None:
        """As on the server: proposals arriving while a batch is on the disk are written
        together in the next batch, once the fsync is done."""
        scheduler = Scheduler()
        cluster = SimCluster(3, seed=5, scheduler=scheduler)
        scheduler.run_until(2 * NS_PER_S)
        leader = cluster.leader()
        assert leader is not None
        node = cluster.nodes[leader]
        replica = node.replica
        assert replica is not None and not node.busy
        written: list[int] = []
        real_save = replica.storage.save

        def save(*, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
            written.append(len(entries))
            real_save(hard_state=hard_state, entries=entries)

        replica.storage.save = save  # type: ignore[method-assign]
        for i in range(3):
            replica.propose(Put(key="x", value=str(i)), lambda _: None)
            cluster.pump(leader)
        during_fsync = list(written)
        scheduler.run_until(scheduler.now + 50 * NS_PER_MS)

        assert [1] == during_fsync
        assert [1, 2] == [n for n in written if n][:2]

    def test_paused_node_finishes_its_batch_only_on_resume(self) -> None:
        """A node paused during an fsync sends that batch's messages only once resumed."""
        scheduler = Scheduler()
        cluster = SimCluster(3, seed=5, scheduler=scheduler)
        scheduler.run_until(2 * NS_PER_S)
        leader = cluster.leader()
        assert leader is not None
        replica = cluster.nodes[leader].replica
        assert replica is not None
        replica.propose(Put(key="x", value="1"), lambda _: None)
        cluster.pump(leader)
        sent = cluster.network.stats.sent
        cluster.pause(leader)
        scheduler.run_until(scheduler.now + 5 * NS_PER_MS)
        sent_while_paused = cluster.network.stats.sent - sent

        cluster.resume(leader)

        assert (0, True) == (sent_while_paused, cluster.network.stats.sent > sent)

    def test_node_whose_core_finds_a_committed_conflict_stops(self) -> None:
        """An append contradicting a committed entry stops the node and is reported, as on
        the server (before, the pair looped until the run's event budget ran out)."""
        scheduler = Scheduler()
        cluster = SimCluster(3, seed=5, scheduler=scheduler)
        scheduler.run_until(2 * NS_PER_S)
        leader = cluster.leader()
        assert leader is not None
        follower = next(n for n in cluster.voters if n != leader)
        replica = cluster.nodes[follower].replica
        assert replica is not None and replica.core.commit_index > 0
        core = replica.core
        forged = Message(
            type=MessageType.APP,
            to=follower,
            frm=leader,
            term=core.term,
            index=core.commit_index,
            log_term=core.term + 5,
        )

        cluster.network.send(leader, follower, forged)
        scheduler.run_until(scheduler.now + 100 * NS_PER_MS)

        assert not cluster.nodes[follower].up
        assert [f"n{follower} stopped: raft invariant violated: leader {leader}"] == [
            v.split(" of term")[0] for v in cluster.invariants.violations
        ]
