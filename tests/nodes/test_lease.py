"""Leader-lease reads: served without a round while the lease holds, earned and renewed by
ReadIndex rounds, lost with leadership, and as unsafe as the leader's clock."""

from __future__ import annotations

import random
from pathlib import PurePosixPath

from nodes.kv import Put
from nodes.lease import LeaseReads, lease_ns
from nodes.raft import Config, Message
from nodes.replica import ReadDone, ReadOutcome, Replica
from nodes.storage import SimFileSystem, WalStorage

TICK = 10_000_000


class Harness:
    """Three replicas (leases on every one) over a lossless in-order pump; time by hand."""

    def __init__(self) -> None:
        self.voters = (1, 2, 3)
        self.now = 0
        self.replicas = {
            i: Replica(
                Config(id=i, voters=self.voters, election_tick=10, heartbeat_tick=1),
                WalStorage(SimFileSystem(), PurePosixPath("/data")),
                random.Random(i),
            )
            for i in self.voters
        }
        self.leases = {
            i: LeaseReads(r, lambda: self.now, lease_ns(10, TICK))
            for i, r in self.replicas.items()
        }
        self.cut: set[int] = set()

    def settle(self, rounds: int = 100) -> None:
        queue: list[Message] = []
        for _ in range(rounds):
            for node, replica in self.replicas.items():
                if node not in self.cut:
                    queue.extend(replica.handle_ready())
            if not queue:
                return
            batch, queue = queue, []
            for message in batch:
                if message.to not in self.cut and message.frm not in self.cut:
                    self.replicas[message.to].step(message)

    def elect(self, node: int) -> None:
        for other, replica in self.replicas.items():  # out of the old leader's lease
            if other != node and other not in self.cut:
                for _ in range(10):
                    replica.tick()
                    replica.handle_ready()
        self.replicas[node].core.campaign()
        self.settle()
        assert self.replicas[node].is_leader

    def read(self, node: int, key: str) -> list[ReadOutcome]:
        outcomes: list[ReadOutcome] = []
        self.leases[node].read(key, outcomes.append)
        self.settle()
        return outcomes


class TestLeaseReads:
    def test_first_read_earns_the_lease_the_next_is_served_from_it(self) -> None:
        """A ReadIndex round grants the lease; a later read costs no round."""
        h = Harness()
        h.elect(1)
        h.read(1, "x")
        lease = h.leases[1]
        rounds = lease.rounds

        outcome = h.read(1, "x")

        assert ([ReadDone(value=None)], rounds, 1) == (outcome, lease.rounds, lease.served)

    def test_lease_read_sees_acknowledged_writes(self) -> None:
        """A write applied by the leader is what its lease reads return."""
        h = Harness()
        h.elect(1)
        h.read(1, "x")
        h.replicas[1].propose(Put(key="x", value="7"), lambda _outcome: None)
        h.settle()

        assert [ReadDone(value="7")] == h.read(1, "x")

    def test_lease_expires_on_the_leaders_clock(self) -> None:
        """Past its duration the lease no longer serves: the read takes a round again."""
        h = Harness()
        h.elect(1)
        h.read(1, "x")
        h.now += lease_ns(10, TICK) + 1

        assert not h.leases[1].valid()

    def test_a_slow_clock_keeps_a_deposed_leaders_lease(self) -> None:
        """A leader cut off from its peers whose clock stopped still serves an old value
        while the others elect a new leader and write: the mode's documented weakness."""
        h = Harness()
        h.elect(1)
        h.read(1, "x")
        h.cut = {1}
        h.elect(2)
        h.replicas[2].propose(Put(key="x", value="new"), lambda _outcome: None)
        h.settle()
        served: list[ReadOutcome] = []

        h.leases[1].read("x", served.append)

        assert [ReadDone(value=None)] == served

    def test_followers_never_hold_a_lease(self) -> None:
        """A follower's read goes through a round and grants it nothing."""
        h = Harness()
        h.elect(1)
        h.read(2, "x")

        assert (False, 0) == (h.leases[2].valid(), h.leases[2].served)

    def test_tick_renews_a_half_spent_lease(self) -> None:
        """A leader's tick asks for a renewal round once half the lease is gone."""
        h = Harness()
        h.elect(1)
        h.read(1, "x")
        before = h.leases[1].remaining_ns
        h.now += lease_ns(10, TICK) * 3 // 4
        h.leases[1].tick()
        h.settle()

        assert h.leases[1].remaining_ns > before - lease_ns(10, TICK) * 3 // 4

    def test_leadership_lost_ends_the_lease(self) -> None:
        """After another node took over (and this one heard of it), no lease holds."""
        h = Harness()
        h.elect(1)
        h.read(1, "x")
        h.replicas[1].core.transfer_leader(2)
        h.settle()

        assert (True, False) == (h.replicas[2].is_leader, h.leases[1].valid())
