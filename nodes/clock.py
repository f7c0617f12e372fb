"""A node's own clock: true time, shifted by an offset and running at a rate (clock faults).

Rules: no IO and no clock of its own: the true time comes from an injected source
(``time.monotonic_ns`` in the node server, the simulated time in the simulator), so the
same object runs in both and stays deterministic under simulation. A healthy clock has
offset 0 and rate 1. ``jump`` steps the clock (a ``settimeofday``: what a lease or a
hybrid logical clock reading the clock sees, not what a monotonic ticker measures);
``set_rate`` makes it run fast or slow from now on (a drifting oscillator: every
interval the node measures, its Raft ticks included, stretches or shrinks); ``reset``
puts it back on true time. What reads the clock decides which of the two it suffers:
the Raft ticker follows the rate and ignores jumps, leases and HLC timestamps follow
both (``nodes.server.node``, ``nodes.lease``, ``nodes.ap``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

MIN_RATE = 0.001
"""The slowest clock allowed (a stopped clock would stop the node's ticks for ever)."""
MAX_RATE = 1000.0
"""The fastest clock allowed."""


class ClockError(ValueError):
    """A clock fault out of range (the caller's mistake); the message names the value."""


def check_rate(rate: float) -> float:
    """``rate`` if it is a usable clock speed.

    Raises:
        ClockError: not a finite number in ``[MIN_RATE, MAX_RATE]``.
    """
    if not (math.isfinite(rate) and MIN_RATE <= rate <= MAX_RATE):
        msg = f"clock rate {rate!r} is outside {MIN_RATE:g}..{MAX_RATE:g} (1 is true time)"
        raise ClockError(msg)
    return rate


class NodeClock:
    """Time as one node sees it (nanoseconds on the source's scale).

    Args:
        source: the true time in nanoseconds (monotonic).
    """

    __slots__ = ("_anchor_source", "_anchor_time", "_jumps", "_rate", "_source")

    def __init__(self, source: Callable[[], int]) -> None:
        self._source = source
        self._rate = 1.0
        self._anchor_source = source()
        self._anchor_time = self._anchor_source
        self._jumps = 0

    def now(self) -> int:
        """This node's time: true time, plus every jump, with elapsed time scaled by the rate."""
        elapsed = self._source() - self._anchor_source
        return self._anchor_time + round(elapsed * self._rate)

    @property
    def rate(self) -> float:
        """How fast the clock runs (1.0: true time)."""
        return self._rate

    @property
    def offset(self) -> int:
        """How far ahead of true time the clock is, in ns (negative: behind)."""
        source = self._source()
        return self._anchor_time + round((source - self._anchor_source) * self._rate) - source

    @property
    def jumps(self) -> int:
        """How many times the clock was stepped or re-rated (evidence of a fault)."""
        return self._jumps

    @property
    def healthy(self) -> bool:
        """Whether the clock runs on true time (offset 0, rate 1)."""
        return self._rate == 1.0 and self.offset == 0

    def jump(self, delta_ns: int) -> None:
        """Step the clock by ``delta_ns`` (negative: back in time)."""
        self._reanchor()
        self._anchor_time += delta_ns
        self._jumps += 1

    def set_rate(self, rate: float) -> None:
        """Run at ``rate`` from now on, keeping the current reading.

        Raises:
            ClockError: the rate is out of range.
        """
        check_rate(rate)
        self._reanchor()
        self._rate = rate
        self._jumps += 1

    def reset(self) -> None:
        """Back on true time: offset 0, rate 1."""
        self._rate = 1.0
        self._anchor_source = self._source()
        self._anchor_time = self._anchor_source
        self._jumps += 1

    def _reanchor(self) -> None:
        now = self.now()
        self._anchor_source = self._source()
        self._anchor_time = now

    def describe(self) -> str:
        """``true time`` or ``+1500 ms, rate 0.5``."""
        if self.healthy:
            return "true time"
        return f"{self.offset / 1e6:+.0f} ms, rate {self._rate:g}"
