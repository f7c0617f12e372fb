"""Hybrid logical clocks (Kulkarni et al., 2014): timestamps that never go backwards and
stay close to the physical clock, for last-writer-wins in the ``ap`` mode.

Rules: no IO, no clock of its own: the physical time (milliseconds) comes from an injected
source, the node's own clock, faults included (``nodes.clock``). A timestamp is
``(physical_ms, logical, node)``, compared in that order, so two nodes never issue equal
ones. ``now`` is for a local event (a write), ``observe`` for a timestamp received from a
peer; both keep the clock strictly increasing whatever the physical clock does (a clock
that jumps back only makes the logical part count up). Monotonic across restarts: a
restarted node starts from a floor, the largest timestamp its durable state holds (every
timestamp it issued that anyone can have seen was made durable first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MAX_PHYSICAL_MS = (1 << 63) - 1
MAX_LOGICAL = (1 << 32) - 1


class TimestampError(ValueError):
    """A timestamp outside the representable range (a peer's bad message)."""


@dataclass(frozen=True, slots=True, order=True)
class Timestamp:
    """One HLC reading; the field order is the comparison order."""

    physical_ms: int
    logical: int
    node: int

    def __post_init__(self) -> None:
        if not 0 <= self.physical_ms <= MAX_PHYSICAL_MS:
            msg = f"physical time {self.physical_ms} ms is outside 0..2^63-1"
            raise TimestampError(msg)
        if not 0 <= self.logical <= MAX_LOGICAL:
            msg = f"logical counter {self.logical} is outside 0..2^32-1"
            raise TimestampError(msg)
        if not 0 <= self.node <= 0xFFFF:
            msg = f"node id {self.node} is outside 0..65535"
            raise TimestampError(msg)

    def describe(self) -> str:
        """``1700000000123.4@n2``."""
        return f"{self.physical_ms}.{self.logical}@n{self.node}"


ZERO = Timestamp(0, 0, 0)
"""Older than every timestamp a node issues."""


class HybridClock:
    """One node's hybrid logical clock.

    Args:
        node: this node's id (the tie-breaker of its timestamps).
        physical_ms: the node's physical clock, in milliseconds.
        floor: the largest timestamp this node issued or observed before a restart.
    """

    __slots__ = ("_last", "_node", "_physical")

    def __init__(
        self, node: int, physical_ms: Callable[[], int], floor: Timestamp = ZERO
    ) -> None:
        self._node = node
        self._physical = physical_ms
        self._last = Timestamp(floor.physical_ms, floor.logical, node)

    @property
    def last(self) -> Timestamp:
        """The latest timestamp issued or observed."""
        return self._last

    def now(self) -> Timestamp:
        """A timestamp for a local event, above every one before it."""
        physical = max(0, self._physical())
        last = self._last
        if physical > last.physical_ms:
            self._last = Timestamp(physical, 0, self._node)
        else:
            self._last = Timestamp(last.physical_ms, last.logical + 1, self._node)
        return self._last

    def observe(self, remote: Timestamp) -> None:
        """Take in a peer's timestamp: later local ones are above it too."""
        last = self._last
        if remote.physical_ms > last.physical_ms or (
            remote.physical_ms == last.physical_ms and remote.logical > last.logical
        ):
            self._last = Timestamp(remote.physical_ms, remote.logical, self._node)
