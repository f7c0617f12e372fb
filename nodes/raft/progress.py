"""What a leader knows about each follower's log, and how it paces replication.

Rules: no IO. A follower is in one of three states (as in etcd's tracker):
PROBE (one APP in flight until answered: we are looking for the match point),
REPLICATE (optimistic pipelining: ``next`` runs ahead of acknowledgements, at
most ``max_inflight_msgs`` unacknowledged APPs), SNAPSHOT (a snapshot is on its
way; nothing else is sent until it is acknowledged or times out).
"""

from __future__ import annotations

import enum
from collections import deque


class ProgressState(enum.Enum):
    """How the leader replicates to one follower."""

    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Progress:
    """The leader's view of one follower.

    Args:
        next_index: the next index to send.
        max_inflight: the pipelining window (unacknowledged APP messages).
    """

    __slots__ = (
        "_inflight",
        "_max_inflight",
        "match",
        "next",
        "pending_snapshot",
        "probe_sent",
        "recent_active",
        "silent",
        "snapshot_elapsed",
        "state",
    )

    def __init__(self, next_index: int, max_inflight: int) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_elapsed = 0
        self.recent_active = False
        self.silent = 0
        """Ticks since this follower last answered (the leader's adaptive timing)."""
        self._max_inflight = max_inflight
        self._inflight: deque[int] = deque()

    @property
    def inflight(self) -> int:
        """How many APP messages are unacknowledged (REPLICATE only)."""
        return len(self._inflight)

    def is_paused(self) -> bool:
        """Whether the leader must not send this follower another APP now."""
        if self.state is ProgressState.REPLICATE:
            return len(self._inflight) >= self._max_inflight
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        return True

    def become_probe(self) -> None:
        """Look for the match point again, one APP at a time."""
        if self.state is ProgressState.SNAPSHOT:
            self.next = max(self.match + 1, self.pending_snapshot + 1)
        else:
            self.next = self.match + 1
        self._reset(ProgressState.PROBE)

    def become_replicate(self) -> None:
        """The match point is known: pipeline entries optimistically."""
        self.next = self.match + 1
        self._reset(ProgressState.REPLICATE)

    def lost_entries(self, holds: int) -> None:
        """The follower's log ends at ``holds``, below the ``match`` it acknowledged (its
        storage lost entries): forget the higher match and probe again from there."""
        self.match = holds
        self.next = holds + 1
        self._reset(ProgressState.PROBE)

    def become_snapshot(self, index: int) -> None:
        """A snapshot at ``index`` was sent; wait for it."""
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = index

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_elapsed = 0
        self._inflight.clear()

    def maybe_update(self, index: int) -> bool:
        """The follower stores everything up to ``index``; return whether match moved."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """The follower rejected an APP after ``rejected``; back ``next`` off.

        Args:
            rejected: the prev index of the rejected APP.
            match_hint: the largest index that may match (from the fast back-off hint).

        Returns:
            False when the rejection is stale (answers an APP we no longer care about).
        """
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected or rejected <= self.match:
            # It answers an older probe, or denies an entry the follower acknowledged:
            # that denial predates the acknowledgement (a follower that really lost
            # entries says so in its heartbeat answer). Resending would spin.
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def sent_entries(self, count: int, last: int) -> None:
        """An APP with ``count`` entries ending at ``last`` was sent."""
        if self.state is ProgressState.REPLICATE:
            if count:
                self.next = last + 1
                self._inflight.append(last)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True

    def free_le(self, index: int) -> None:
        """APPs ending at or before ``index`` are acknowledged."""
        inflight = self._inflight
        while inflight and inflight[0] <= index:
            inflight.popleft()

    def free_first(self) -> None:
        """Free one slot of a full window (a heartbeat answer shows the follower is alive)."""
        if self._inflight:
            self._inflight.popleft()
