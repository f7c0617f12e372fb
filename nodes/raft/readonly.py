"""The leader's queue of ReadIndex requests waiting for a heartbeat quorum.

Rules: no IO. Requests are answered in arrival order; a quorum of acks for a
request also confirms every request queued before it (the heartbeat that
carried its context was sent after they were registered).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nodes.raft.messages import NodeId


@dataclass(slots=True, kw_only=True)
class ReadRequest:
    """One pending read: the commit index at request time, who asked, who acked."""

    index: int
    context: bytes
    requester: NodeId
    acks: set[NodeId] = field(default_factory=set)


class ReadOnly:
    """Pending ReadIndex requests of one leader term, keyed by their context."""

    __slots__ = ("_pending", "_queue")

    def __init__(self) -> None:
        self._pending: dict[bytes, ReadRequest] = {}
        self._queue: list[bytes] = []

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, request: ReadRequest) -> bool:
        """Queue a request; False when one with the same context is already pending."""
        if request.context in self._pending:
            return False
        self._pending[request.context] = request
        self._queue.append(request.context)
        return True

    def last_context(self) -> bytes:
        """The context of the newest pending request (b"" when none)."""
        return self._queue[-1] if self._queue else b""

    def ack(self, context: bytes, voter: NodeId) -> int:
        """Record ``voter``'s heartbeat answer for ``context``; return the ack count."""
        request = self._pending.get(context)
        if request is None:
            return 0
        request.acks.add(voter)
        return len(request.acks)

    def release(self, context: bytes) -> list[ReadRequest]:
        """Pop the request for ``context`` and every request queued before it."""
        if context not in self._pending:
            return []
        cut = self._queue.index(context) + 1
        released = [self._pending.pop(c) for c in self._queue[:cut]]
        del self._queue[:cut]
        return released

    def drain(self) -> list[ReadRequest]:
        """Pop every pending request (leadership lost)."""
        released = [self._pending[c] for c in self._queue]
        self._pending.clear()
        self._queue.clear()
        return released
