"""Leader-lease reads (consistency mode ``lease``): a leader answers reads from its own
state, without a quorum round, while its lease lasts. UNSAFE under clock faults.

Rules: no IO; time comes from the node's clock (``nodes.clock``, injected as ``now``), so
the node server and the simulator drive the very same object. The lease is earned by an
ordinary ReadIndex round (``Replica.read``): a quorum acknowledged a heartbeat the leader
sent after the round was asked for, at ``asked``. Each of those followers then refuses
to vote for anyone else until ``election_tick`` of its own ticks have passed
(CheckQuorum's leader stickiness in the Raft core), so no other leader can be elected
before ``asked + duration`` when ``duration`` stays below that, *provided every clock runs
at the same speed*: a leader whose clock runs slow or jumps back keeps serving reads
after a new leader has taken writes (stale reads). That is the mode's documented
weakness; ``cp`` never reads a clock. The lease holds only for the term and the
leadership it was earned in, and not while a leadership transfer is under way (a
transfer's forced election ignores the followers' stickiness). Reads without a valid
lease fall back to a ReadIndex round, whose confirmation renews the lease; a leader keeps
its lease warm by asking for a renewal round (an empty ReadIndex read) whenever less than
half of it is left, on each tick the driver reports (``tick``) and on each lease read.
"""

from __future__ import annotations

from collections.abc import Callable

from nodes.raft import NO_NODE, NotLeader, Role
from nodes.replica import ReadCallback, ReadDone, ReadOutcome, Replica

LEASE_SAFETY_TICKS = 2
"""Ticks kept back from the followers' ``election_tick``: a follower may tick right after
it heard the heartbeat, and its vote check counts whole ticks."""


RENEWAL_KEY = ""
"""What a renewal round reads (no client key is empty; the value is thrown away)."""


def lease_ns(election_tick: int, tick_ns: int) -> int:
    """How long a lease lasts: ``election_tick - 2`` ticks (at least one tick)."""
    return max(1, election_tick - LEASE_SAFETY_TICKS) * tick_ns


class LeaseReads:
    """One node's lease-read policy over its replica.

    Args:
        replica: the node's replica.
        now: the node's clock, in nanoseconds (``NodeClock.now``).
        duration_ns: how long a confirmed round keeps the lease (``lease_ns``).
    """

    def __init__(self, replica: Replica, now: Callable[[], int], duration_ns: int) -> None:
        if duration_ns <= 0:
            msg = f"a lease must last more than 0 ns, got {duration_ns}"
            raise ValueError(msg)
        self._replica = replica
        self._now = now
        self._duration = duration_ns
        self._term = 0
        self._until = 0
        self._renewing = False
        self.served = 0
        """Reads answered from the lease."""
        self.rounds = 0
        """Reads (and renewals) that went through a ReadIndex round."""

    def valid(self) -> bool:
        """Whether this node may answer a read from its state right now."""
        core = self._replica.core
        if core.role is not Role.LEADER or core.term != self._term or self._until == 0:
            return False
        if core.status().lead_transferee != NO_NODE:
            self._until = 0  # a forced election may follow: earn the lease again afterwards
            return False
        return self._now() < self._until

    @property
    def remaining_ns(self) -> int:
        """How long the lease still lasts on this node's clock (0 when it does not hold)."""
        return max(0, self._until - self._now()) if self.valid() else 0

    def tick(self) -> None:
        """One tick of the node's ticker: a leader renews a lease that is half spent."""
        core = self._replica.core
        if core.role is not Role.LEADER:
            return
        if self._term != core.term or self._until - self._now() < self._duration // 2:
            self._renew(RENEWAL_KEY)

    def read(self, key: str, callback: ReadCallback) -> None:
        """Answer ``callback`` from the lease, or through a ReadIndex round without one.

        Raises:
            NotLeader: no lease, and no leader is known to confirm the read with.
        """
        if self.valid():
            self.served += 1
            callback(ReadDone(value=self._replica.kv.get(key)))
            if self._until - self._now() < self._duration // 2:
                self._renew(key)
            return
        self.rounds += 1
        self._replica.read(key, self._renewing_callback(callback))

    def _renew(self, key: str) -> None:
        if self._renewing:
            return
        self._renewing = True
        self.rounds += 1

        def done(_outcome: ReadOutcome) -> None:
            self._renewing = False

        try:
            self._replica.read(key, self._renewing_callback(done))
        except NotLeader:
            self._renewing = False

    def _renewing_callback(self, callback: ReadCallback) -> ReadCallback:
        """Wrap ``callback`` so that a confirmed round renews the lease."""
        core = self._replica.core
        asked = self._now()
        term = core.term
        leading = core.role is Role.LEADER

        def confirmed(outcome: ReadOutcome) -> None:
            if (
                isinstance(outcome, ReadDone)
                and leading
                and core.role is Role.LEADER
                and core.term == term
            ):
                kept = self._until if self._term == term else 0
                self._term = term
                self._until = max(kept, asked + self._duration)
            callback(outcome)

        return confirmed
