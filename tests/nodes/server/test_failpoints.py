"""The failpoint request: checked whole before anything changes, then applied to the node's
clock and disk; the reply says what is in force."""

from __future__ import annotations

import pytest

from nodes.clock import NodeClock
from nodes.rpc import chaoslab_pb2 as pb
from nodes.server.failpoints import FailpointRefused, Failpoints
from nodes.storage.faults import DiskFailpoints, DiskFault


def _failpoints() -> tuple[Failpoints, list[int]]:
    now = [0]
    clock = NodeClock(lambda: now[0])
    return Failpoints(1, clock, DiskFailpoints(sleep=lambda _s: None), enabled=True), now


class TestFailpoints:
    def test_clock_jump_and_rate(self) -> None:
        """A jump of -1500 ms and rate 0.5 are in force and reported."""
        failpoints, _ = _failpoints()

        reply = failpoints.apply(pb.FailpointRequest(clock_jump_ms=-1500, clock_rate=0.5))

        assert (-1500, 0.5) == (reply.clock_offset_ms, reply.clock_rate)

    def test_reset_comes_first(self) -> None:
        """A reset with a jump in one request: back on true time, then the jump."""
        failpoints, _ = _failpoints()
        failpoints.apply(pb.FailpointRequest(clock_jump_ms=900))

        reply = failpoints.apply(pb.FailpointRequest(clock_reset=True, clock_jump_ms=100))

        assert 100 == reply.clock_offset_ms

    def test_disk_slow_then_none(self) -> None:
        """A slow disk with its delay, then healthy again."""
        failpoints, _ = _failpoints()
        slow = failpoints.apply(pb.FailpointRequest(disk="slow", disk_delay_ms=250))
        healthy = failpoints.apply(pb.FailpointRequest(disk="none"))

        assert ("slow 250 ms", "none") == (slow.disk, healthy.disk)

    @pytest.mark.parametrize(
        ("request_", "field"),
        [
            (pb.FailpointRequest(disk="melted"), "disk"),
            (pb.FailpointRequest(disk="slow"), "disk_delay_ms"),
            (pb.FailpointRequest(clock_rate=0.0), "clock_rate"),
            (pb.FailpointRequest(clock_jump_ms=10**15), "clock_jump_ms"),
        ],
    )
    def test_out_of_range_is_refused_and_changes_nothing(
        self, request_: pb.FailpointRequest, field: str
    ) -> None:
        """A bad value names its field; the clock and disk stay as they were."""
        failpoints, _ = _failpoints()
        request_.clock_reset = True

        with pytest.raises(FailpointRefused, match=field):
            failpoints.apply(request_)
        assert (0, DiskFault.NONE) == (failpoints.clock.jumps, failpoints.disk.fault)  # type: ignore[union-attr]

    def test_disk_without_disk_failpoints_is_refused(self) -> None:
        """A node whose storage runs without the failpoint layer refuses disk faults."""
        failpoints = Failpoints(1, NodeClock(lambda: 0), None, enabled=True)

        with pytest.raises(FailpointRefused, match="without disk failpoints"):
            failpoints.apply(pb.FailpointRequest(disk="error"))
