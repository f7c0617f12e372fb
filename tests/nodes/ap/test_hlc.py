"""Hybrid logical clocks: strictly increasing whatever the physical clock does, above every
timestamp observed, and close to physical time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodes.ap import HybridClock, Timestamp, TimestampError


class TestHybridClock:
    def test_follows_a_moving_physical_clock(self) -> None:
        """With physical time ahead of the clock, a timestamp is physical time, logical 0."""
        physical = iter([100, 200])
        clock = HybridClock(1, lambda: next(physical))

        assert [Timestamp(100, 0, 1), Timestamp(200, 0, 1)] == [clock.now(), clock.now()]

    def test_counts_up_when_the_physical_clock_stands_or_goes_back(self) -> None:
        """A clock stepped back makes the logical part count, never the timestamp fall."""
        physical = iter([500, 500, 100])
        clock = HybridClock(2, lambda: next(physical))

        assert [Timestamp(500, 0, 2), Timestamp(500, 1, 2), Timestamp(500, 2, 2)] == [
            clock.now(), clock.now(), clock.now()]

    def test_later_timestamps_exceed_an_observed_one(self) -> None:
        """After observing a peer's future timestamp, local ones are above it."""
        clock = HybridClock(1, lambda: 10)
        clock.observe(Timestamp(900, 4, 3))

        assert clock.now() > Timestamp(900, 4, 3)

    def test_a_restart_starts_above_its_floor(self) -> None:
        """A restarted clock whose physical time is behind issues above the floor."""
        clock = HybridClock(1, lambda: 0, floor=Timestamp(1_000, 7, 1))

        assert Timestamp(1_000, 8, 1) == clock.now()

    @given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=60),
           st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 50)), max_size=20))
    def test_strictly_increasing(self, readings: list[int],
                                 observed: list[tuple[int, int]]) -> None:
        """Whatever physical readings and observations, every timestamp exceeds the last."""
        physical = iter(readings)
        clock = HybridClock(1, lambda: next(physical))
        stamps = []
        for number in range(len(readings)):
            if number < len(observed):
                clock.observe(Timestamp(*observed[number], 2))
            stamps.append(clock.now())

        assert stamps == sorted(set(stamps))

    def test_out_of_range_is_refused(self) -> None:
        """A negative physical time cannot be a timestamp."""
        with pytest.raises(TimestampError, match="physical time"):
            Timestamp(-1, 0, 1)
