"""A discrete-event scheduler: the simulator's clock.

Rules: time is integer nanoseconds of simulated time, starting at 0; events at
the same instant run in the order they were scheduled (a sequence number breaks
ties), so a run is deterministic. Nothing here reads a real clock.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


class Timer:
    """A scheduled action that can be cancelled: ``cancel()`` makes it a no-op."""

    __slots__ = ("action", "cancelled")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        """Drop the event if it has not run yet."""
        self.cancelled = True

    def __call__(self) -> None:
        if not self.cancelled:
            self.action()


class Scheduler:
    """Runs callbacks in simulated-time order."""

    def __init__(self) -> None:
        # (time, sequence, action): the unique sequence number breaks ties, so
        # comparisons never reach the action itself.
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self.now = 0
        """The current simulated time in nanoseconds."""
        self.events = 0
        """How many events have run."""

    def post_at(self, at: int, action: Callable[[], None]) -> None:
        """Run ``action`` at simulated time ``at`` (never earlier than now); no handle."""
        self._seq += 1
        heapq.heappush(self._queue, (at if at > self.now else self.now, self._seq, action))

    def post_later(self, delay: int, action: Callable[[], None]) -> None:
        """Run ``action`` after ``delay`` nanoseconds of simulated time; no handle."""
        self._seq += 1
        heapq.heappush(self._queue, (self.now + delay, self._seq, action))

    def call_at(self, at: int, action: Callable[[], None]) -> Timer:
        """Run ``action`` at simulated time ``at``; the returned ``Timer`` can cancel it."""
        timer = Timer(action)
        self.post_at(at, timer)
        return timer

    def call_later(self, delay: int, action: Callable[[], None]) -> Timer:
        """Run ``action`` after ``delay`` nanoseconds; the returned ``Timer`` can cancel it."""
        return self.call_at(self.now + delay, action)

    def run_until(self, until: int, *, max_events: int | None = None) -> bool:
        """Run every event due at or before ``until``, then set the clock to ``until``.

        Args:
            until: the simulated time to run to.
            max_events: stop early once this many events (counted since the scheduler
                was made) have run, so a run that spins cannot run forever.

        Returns:
            True when the clock reached ``until``; False when ``max_events`` stopped it.
        """
        queue = self._queue
        pop = heapq.heappop
        limit = max_events if max_events is not None else sys.maxsize
        events = self.events
        try:
            while queue and queue[0][0] <= until:
                if events >= limit:
                    return False
                at, _, action = pop(queue)
                self.now = at
                events += 1
                action()
        finally:
            self.events = events
        self.now = max(self.now, until)
        return True

    @property
    def pending(self) -> int:
        """How many events are queued (cancelled ones included)."""
        return len(self._queue)
