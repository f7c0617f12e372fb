"""The admin failpoint call: in-node faults for chaos experiments (the node's clock and
its disk), as Jepsen skews clocks and CharybdeFS breaks filesystems.

Rules: translate a ``FailpointRequest`` into changes of the node's ``NodeClock`` and
``DiskFailpoints``, nothing more. The call is refused unless the node was started with
``--failpoints`` (FAILED_PRECONDITION) and unless it carries the cluster's peer token
(UNAUTHENTICATED; checked in ``services`` before this module sees the request): only a
member of the cluster, or whoever holds its secret, may break a node. A request out of
range is INVALID_ARGUMENT and changes nothing. Every change is logged loudly.
"""

from __future__ import annotations

import structlog

from nodes.clock import ClockError, NodeClock, check_rate
from nodes.rpc import chaoslab_pb2 as pb
from nodes.storage.faults import DiskFailpoints, DiskFault

_log = structlog.get_logger()
MAX_JUMP_MS = 10 * 365 * 24 * 3600 * 1000
"""The largest clock step accepted (ten years)."""
MAX_DISK_DELAY_MS = 60_000


class FailpointRefused(ValueError):
    """A failpoint request out of range (the caller's fault); the message names the field."""


class Failpoints:
    """The node's clock and disk switches.

    Args:
        node_id: for the logs.
        clock: the node's clock.
        disk: the node's disk failpoints (None when storage runs without them).
        enabled: whether ``--failpoints`` was given.
    """

    def __init__(
        self, node_id: int, clock: NodeClock, disk: DiskFailpoints | None, *, enabled: bool
    ) -> None:
        self.clock = clock
        self.disk = disk
        self.enabled = enabled
        self._log = _log.bind(node=node_id)

    def apply(self, request: pb.FailpointRequest) -> pb.FailpointReply:
        """Check the whole request, then apply it; returns the state now in force.

        Raises:
            FailpointRefused: a value is out of range (nothing was changed).
        """
        fault = None
        if request.disk:
            try:
                fault = DiskFault(request.disk)
            except ValueError:
                names = ", ".join(f.value for f in DiskFault)
                msg = f"disk: {request.disk[:40]!r} is not one of {names}"
                raise FailpointRefused(msg) from None
            if fault is DiskFault.SLOW and not 0 < request.disk_delay_ms <= MAX_DISK_DELAY_MS:
                msg = f"disk_delay_ms: a slow disk needs 1..{MAX_DISK_DELAY_MS} ms"
                raise FailpointRefused(msg)
            if self.disk is None:
                msg = "disk: this node's storage runs without disk failpoints"
                raise FailpointRefused(msg)
        if request.HasField("clock_jump_ms") and abs(request.clock_jump_ms) > MAX_JUMP_MS:
            msg = f"clock_jump_ms: {request.clock_jump_ms} is beyond ±{MAX_JUMP_MS}"
            raise FailpointRefused(msg)
        if request.HasField("clock_rate"):
            try:
                check_rate(request.clock_rate)
            except ClockError as exc:
                raise FailpointRefused(f"clock_rate: {exc}") from None
        clock = self.clock
        if request.clock_reset:
            clock.reset()
        if request.HasField("clock_jump_ms"):
            clock.jump(request.clock_jump_ms * 1_000_000)
        if request.HasField("clock_rate"):
            clock.set_rate(request.clock_rate)
        if request.clock_reset or request.HasField("clock_jump_ms") or request.HasField(
            "clock_rate"
        ):
            self._log.warning("failpoint_clock", clock=clock.describe(),
                              detail="UNSAFE: the node's clock is skewed on purpose"
                              if not clock.healthy else "back on true time")
        if fault is not None and self.disk is not None:
            self.disk.set(fault, request.disk_delay_ms / 1000)
            self._log.warning("failpoint_disk", disk=self.disk.describe(),
                              detail="UNSAFE: the node's disk fails on purpose"
                              if fault is not DiskFault.NONE else "disk healthy again")
        return self.reply()

    def reply(self) -> pb.FailpointReply:
        """What is in force now."""
        disk = self.disk
        return pb.FailpointReply(
            clock_offset_ms=round(self.clock.offset / 1_000_000),
            clock_rate=self.clock.rate,
            disk="none" if disk is None else disk.describe(),
            disk_injected=0 if disk is None else disk.injected,
        )
