"""The node of the ``ap`` mode: its ``ApReplica`` driven from asyncio, and anti-entropy to
every peer over the peer transport (``Peer.Sync``). UNSAFE for linearizability.

Rules: no Raft here at all (the mode's own replication path). Writes and merges are
serialized (one lock), decided on the event loop, made durable in a worker thread (the
fsync never stalls the loop), then applied on the loop and only then acknowledged. One
sender task per peer pushes what the peer has not acknowledged, woken by every local
change, retrying after failures (counted as undelivered, the evidence a partition leaves).
The node fails stop exactly as the Raft node does: a ``StorageFailure`` or a dead task
logs the cause, sets ``failed`` and every later write is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import grpc
import structlog

from nodes.ap import ApReplica, Prepared, SyncBatch, Version
from nodes.clock import NodeClock
from nodes.kv import Command, KvResult
from nodes.raft import NodeId
from nodes.rpc import chaoslab_pb2 as pb
from nodes.server.config import NodeSettings
from nodes.server.node import NodeStatus
from nodes.server.transport import PeerTransport
from nodes.storage import StorageFailure

_log = structlog.get_logger()

RETRY_S = 0.1
"""Pause after a failed push to a peer."""
IDLE_S = 1.0
"""A sender with nothing to push wakes up this often anyway."""
REPLICA_ROLE = "replica"
"""What an ap node calls its role (there is no leader)."""


def version_to_pb(version: Version) -> pb.VersionPb:
    """One version on the wire."""
    message = pb.VersionPb(
        key=version.key,
        physical_ms=version.stamp.physical_ms,
        logical=version.stamp.logical,
        node=version.stamp.node,
    )
    if version.value is not None:
        message.value = version.value
    return message


class NodeStopped(Exception):
    """The node failed stop; nothing more is applied."""


class ApNode:
    """One running ``ap`` node.

    Args:
        settings: validated settings (``consistency: ap``).
        replica: the loaded replica.
        clock: the node's clock (its HLC reads it).
        transport: the peer transport (``Sync`` calls ride its control connections).
    """

    def __init__(
        self,
        settings: NodeSettings,
        replica: ApReplica,
        clock: NodeClock,
        transport: PeerTransport | None = None,
    ) -> None:
        self.settings = settings
        self.replica = replica
        self.clock = clock
        self.transport = transport or PeerTransport.from_settings(settings)
        self.failed = asyncio.Event()
        self.failure: str | None = None
        self._lock = asyncio.Lock()
        self._wakes = {peer: asyncio.Event() for peer in replica.peers}
        self._tasks: list[asyncio.Task[None]] = []
        self._log = _log.bind(node=settings.id)

    # ---- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        """Start one sender task per peer (in the running loop)."""
        self.transport.start()
        self._tasks = [
            asyncio.create_task(self._guarded(peer), name=f"ap-sync-{peer}")
            for peer in self.replica.peers
        ]
        for wake in self._wakes.values():
            wake.set()

    async def stop(self, reason: str = "the node is shutting down") -> None:
        """Stop the senders, close the transport and the log."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.transport.close()
        self.replica.log.close()
        self._log.info("ap_node_stopped", reason=reason)

    # ---- requests -----------------------------------------------------------------

    def read(self, key: str) -> str | None:
        """This replica's value (UNSAFE: whatever it has seen so far)."""
        return self.replica.read(key)

    async def execute(self, command: Command) -> KvResult:
        """Apply a client write locally, durably, before answering.

        Raises:
            NodeStopped: the node failed (now, or before).
        """
        async with self._lock:
            self._check()
            prepared = self.replica.prepare(command)
            if prepared.versions:
                await self._persist(prepared)
            result = self.replica.apply(prepared)
        if prepared.versions:
            self._changed()
        return result

    async def receive(self, versions: Sequence[Version]) -> int:
        """Merge a peer's versions durably; returns how many replaced ours.

        Raises:
            NodeStopped: the node failed (now, or before).
        """
        async with self._lock:
            self._check()
            prepared = self.replica.prepare_merge(versions)
            if prepared.versions:
                await self._persist(prepared)
            merged = self.replica.apply_merge(prepared)
        if merged:
            self._changed()
        return merged

    async def _persist(self, prepared: Prepared) -> None:
        replica = self.replica
        try:
            await asyncio.to_thread(replica.persist, prepared)
            if replica.log.wants_compaction(len(replica.store)):
                await asyncio.to_thread(replica.maybe_compact)
        except StorageFailure as exc:
            self._fail(f"storage failed: {exc}")
            raise NodeStopped(self.failure) from exc

    def _check(self) -> None:
        if self.failed.is_set():
            raise NodeStopped(self.failure)

    def _changed(self) -> None:
        for wake in self._wakes.values():
            wake.set()

    # ---- anti-entropy ---------------------------------------------------------------

    async def _guarded(self, peer: NodeId) -> None:
        try:
            await self._sender(peer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log.exception("node_loop_died", loop=f"ap sync to {peer}")
            self._fail(f"the ap sender to node {peer} died: {type(exc).__name__}: {exc}")

    async def _sender(self, peer: NodeId) -> None:
        wake = self._wakes[peer]
        timeout = self.settings.peer_timeout_ms / 1000
        was_reachable = True
        while not self.failed.is_set():
            batch = self.replica.outgoing(peer)
            if batch is None:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), IDLE_S)
                continue
            reachable = await self._push(peer, batch, timeout)
            if reachable != was_reachable:
                self._log.info("peer_link_changed", peer=peer, reachable=reachable)
                was_reachable = reachable
            if not reachable:
                await asyncio.sleep(RETRY_S)

    async def _push(self, peer: NodeId, batch: SyncBatch, timeout_s: float) -> bool:
        request = pb.SyncRequest(
            cluster_id=self.settings.cluster_id,
            sender=self.settings.id,
            versions=[version_to_pb(v) for v in batch.versions],
        )
        try:
            await self.transport.sync(peer, request, timeout_s)
        except grpc.aio.AioRpcError as exc:
            self.replica.undelivered(peer, batch)
            self._log.debug("ap_sync_failed", peer=peer, code=exc.code().name)
            return False
        self.replica.acknowledged(peer, batch)
        return True

    # ---- inspection -------------------------------------------------------------------

    @property
    def leader_id(self) -> NodeId:
        """An ap cluster has no leader."""
        return 0

    def dropped(self, peer: NodeId) -> int:
        """Versions this node could not deliver to ``peer`` so far."""
        return self.replica.stats.undelivered.get(peer, 0)

    def health(self) -> tuple[bool, str]:
        """Healthy while it runs: an ap replica serves alone."""
        if self.failed.is_set():
            return False, f"stopped: {self.failure}"
        return True, "ap replica serving locally (UNSAFE: no consensus)"

    def status(self) -> NodeStatus:
        """What this replica knows: the role is ``replica``; indexes count local changes."""
        seq = self.replica.store.seq
        return NodeStatus(
            id=self.settings.id,
            role=REPLICA_ROLE,
            term=0,
            leader_id=0,
            leader_address="",
            commit_index=seq,
            applied_index=seq,
            first_index=0,
            last_index=seq,
            snapshot_index=0,
            progress={},
        )

    def _fail(self, reason: str) -> None:
        if self.failed.is_set():
            return
        self.failure = reason
        self._log.error("node_stopping", reason=reason)
        self.failed.set()
