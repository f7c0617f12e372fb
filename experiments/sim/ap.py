"""The ``ap`` mode in the simulator: each node's ``ApReplica`` pushes its changes to every
peer over the simulated network, as the node server does over ``Peer.Sync``.

Rules: deterministic (no randomness of its own; the network draws delays and losses).
Every tick of a node's clock, for each peer with changes it has not acknowledged and no
push in flight (or one older than ``RESEND_TICKS`` ticks), the node sends one ``ApPush``;
the peer merges it durably (a simulated fsync) and answers ``ApAck``, and only then does
the sender count it delivered. Lost pushes and acks are sent again; merging is
idempotent. A disk failure while merging makes the node fail stop, as a real node does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from nodes.ap import ApLog, ApReplica, SyncBatch
from nodes.clock import NodeClock
from nodes.storage import FileSystem, StorageFailure

if TYPE_CHECKING:
    from experiments.sim.cluster import SimCluster

AP_DIR = PurePosixPath("/ap")
RESEND_TICKS = 20
"""A push unanswered for this many ticks is sent again."""
WALL_ORIGIN_MS = 1_700_000_000_000
"""Simulated wall time at simulated time 0 (the HLC wants something wall-like)."""


@dataclass(frozen=True, slots=True)
class ApPush:
    """Changes for the receiver (``number`` pairs it with its ack)."""

    batch: SyncBatch
    number: int


@dataclass(frozen=True, slots=True)
class ApAck:
    """The receiver merged push ``number`` durably."""

    number: int


def boot_ap(
    cluster: SimCluster, node_id: int, fs: FileSystem, clock: NodeClock
) -> tuple[ApReplica, ApSync]:
    """A fresh ap process on node ``node_id``'s disk: its replica and its pusher."""
    log = ApLog(fs, AP_DIR)
    peers = [n for n in cluster.voters if n != node_id]
    replica = ApReplica(node_id, peers, log, lambda: WALL_ORIGIN_MS + clock.now() // 1_000_000)
    sync = ApSync(cluster, node_id, replica)
    return replica, sync


class ApSync:
    """One node's anti-entropy in the simulator (see the module docstring)."""

    def __init__(self, cluster: SimCluster, node_id: int, replica: ApReplica) -> None:
        self._cluster = cluster
        self.id = node_id
        self.replica = replica
        self._number = 0
        self._in_flight: dict[int, tuple[int, SyncBatch, int]] = {}
        """Peer -> (push number, batch, when sent)."""
        node = cluster.nodes[node_id]
        cluster.scheduler.post_later(cluster.tick_interval(node), self._tick)

    def _live(self) -> bool:
        return self._cluster.nodes[self.id].ap is self.replica

    def _tick(self) -> None:
        if not self._live():
            return  # crashed since: this pusher died with its process
        cluster = self._cluster
        node = cluster.nodes[self.id]
        interval = cluster.tick_interval(node)
        cluster.scheduler.post_later(interval, self._tick)
        if node.paused:
            return
        now = cluster.scheduler.now
        for peer in self.replica.peers:
            flying = self._in_flight.get(peer)
            if flying is not None and now - flying[2] < RESEND_TICKS * interval:
                continue
            batch = self.replica.outgoing(peer)
            if batch is None:
                self._in_flight.pop(peer, None)
                continue
            self._number += 1
            self._in_flight[peer] = (self._number, batch, now)
            cluster.network.send(self.id, peer, ApPush(batch=batch, number=self._number))

    def deliver(self, src: int, message: ApPush | ApAck) -> None:
        """A push or an ack arrived from ``src`` (the node is up and not paused)."""
        cluster = self._cluster
        if isinstance(message, ApAck):
            flying = self._in_flight.get(src)
            if flying is not None and flying[0] == message.number:
                del self._in_flight[src]
                self.replica.acknowledged(src, flying[1])
            return
        try:
            self.replica.receive(message.batch.versions)
        except StorageFailure as exc:
            cluster.fail_stop(self.id, str(exc))
            return
        node = cluster.nodes[self.id]
        ack = partial(self._ack, src, message.number)
        cluster.scheduler.post_later(cluster.fsync_delay(node), ack)

    def _ack(self, dst: int, number: int) -> None:
        if self._live():
            self._cluster.network.send(self.id, dst, ApAck(number=number))
