"""A discrete-event scheduler: the simulator's clock.

Rules: time is integer nanoseconds of simulated time, starting at 0; events at
the same instant run in the order they were scheduled (a sequence number breaks
ties), so a run is deterministic. Nothing here reads a real clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


class _Event:
    __slots__ = ("action", "cancelled")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.cancelled = False


class Timer:
    """A handle to a scheduled event; ``cancel()`` makes it a no-op."""

    __slots__ = ("_event",)

    def __init__(self, event: _Event) -> None:
        self._event = event

    def cancel(self) -> None:
        """Drop the event if it has not run yet."""
        self._event.cancelled = True


class Scheduler:
    """Runs callbacks in simulated-time order."""

    def __init__(self) -> None:
        # (time, sequence, event): the unique sequence number breaks ties, so
        # comparisons never reach the event itself.
        self._queue: list[tuple[int, int, _Event]] = []
        self._seq = 0
        self.now = 0
        """The current simulated time in nanoseconds."""

    def call_at(self, at: int, action: Callable[[], None]) -> Timer:
        """Run ``action`` at simulated time ``at`` (never earlier than now)."""
        event = _Event(action)
        self._seq += 1
        heapq.heappush(self._queue, (at if at > self.now else self.now, self._seq, event))
        return Timer(event)

    def call_later(self, delay: int, action: Callable[[], None]) -> Timer:
        """Run ``action`` after ``delay`` nanoseconds of simulated time."""
        return self.call_at(self.now + delay, action)

    def run_until(self, until: int) -> None:
        """Run every event due at or before ``until``, then set the clock to ``until``."""
        queue = self._queue
        pop = heapq.heappop
        while queue and queue[0][0] <= until:
            at, _, event = pop(queue)
            if event.cancelled:
                continue
            self.now = at
            event.action()
        self.now = max(self.now, until)

    @property
    def pending(self) -> int:
        """How many events are queued (cancelled ones included)."""
        return len(self._queue)
