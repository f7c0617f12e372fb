"""A node's clock: true time unless a fault skews it (jumps, rate), and back on reset."""

from __future__ import annotations

import pytest

from nodes.clock import ClockError, NodeClock


class FakeTime:
    """A true clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


class TestNodeClock:
    def test_healthy_clock_is_true_time(self) -> None:
        """Without faults the node's clock reads the source."""
        source = FakeTime()
        clock = NodeClock(source)
        source.now += 500

        assert (1_500, 0, True) == (clock.now(), clock.offset, clock.healthy)

    def test_jump_steps_the_reading(self) -> None:
        """A jump back by 300 ns shows at once and stays as time goes on."""
        source = FakeTime()
        clock = NodeClock(source)
        clock.jump(-300)
        source.now += 100

        assert (800, -300, 1) == (clock.now(), clock.offset, clock.jumps)

    def test_rate_scales_elapsed_time_from_now_on(self) -> None:
        """At rate 0.5, 1000 ns of true time are 500 ns of the node's."""
        source = FakeTime()
        clock = NodeClock(source)
        source.now += 200
        clock.set_rate(0.5)
        source.now += 1_000

        assert (1_700, 0.5) == (clock.now(), clock.rate)

    def test_reset_returns_to_true_time(self) -> None:
        """After a jump and a rate change, reset gives true time, rate 1."""
        source = FakeTime()
        clock = NodeClock(source)
        clock.jump(5_000)
        clock.set_rate(3.0)
        source.now += 10
        clock.reset()

        assert (source.now, 1.0, True) == (clock.now(), clock.rate, clock.healthy)

    @pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), 1e9])
    def test_rate_out_of_range_is_refused(self, rate: float) -> None:
        """A stopped, negative, NaN or absurd rate is a ClockError naming it."""
        clock = NodeClock(FakeTime())

        with pytest.raises(ClockError, match="clock rate"):
            clock.set_rate(rate)

    def test_describe_names_offset_and_rate(self) -> None:
        """describe() says how far off and how fast the clock runs."""
        clock = NodeClock(FakeTime())
        clock.jump(-2_000_000_000)
        clock.set_rate(0.25)

        assert "-2000 ms, rate 0.25" == clock.describe()
