"""The node's event loop: a ticker, the Ready loop and the requests that feed the replica.

Rules: every replica call happens on the asyncio loop thread, except
``Replica.persist`` (storage only), which runs in a worker thread so fsync does
not stall the loop; core inputs keep arriving meanwhile (group commit). The
Ready contract is followed exactly: persist, then send, then nothing else sends.
A ``StorageFailure`` stops the node: every waiting request gets an honest
outcome and ``failed`` is set for the caller to exit non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from nodes.kv import Command
from nodes.raft import Config, Message, NodeId, Role
from nodes.replica import ProposalOutcome, ReadOutcome, Replica, ReplicaOptions
from nodes.server.config import NodeSettings
from nodes.server.transport import PeerTransport
from nodes.storage import Storage, StorageFailure

_log = structlog.get_logger()


T = TypeVar("T")


def _settler(future: asyncio.Future[T]) -> Callable[[T], None]:
    """A callback that settles ``future`` with its first outcome (later ones are ignored)."""

    def settle(outcome: T) -> None:
        if not future.done():
            future.set_result(outcome)

    return settle


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStatus:
    """A snapshot of what the node knows, for the admin service."""

    id: NodeId
    role: str
    term: int
    leader_id: NodeId
    leader_address: str
    commit_index: int
    applied_index: int
    first_index: int
    last_index: int
    snapshot_index: int
    progress: dict[NodeId, tuple[int, int, str]]
    """Leader only: peer → (match, next, state)."""


class Node:
    """One running node: owns the replica and drives it from asyncio.

    Args:
        settings: validated settings.
        storage: the node's loaded-on-demand storage (``Replica`` calls ``load``).
        rng: randomness for election timeouts.
    """

    def __init__(self, settings: NodeSettings, storage: Storage, rng: random.Random) -> None:
        self.settings = settings
        config = Config(
            id=settings.id,
            voters=settings.voters,
            election_tick=settings.election_tick,
            heartbeat_tick=settings.heartbeat_tick,
        )
        self.replica = Replica(
            config, storage, rng, ReplicaOptions(snapshot_every=settings.snapshot_every)
        )
        self.transport = PeerTransport(
            settings.id,
            settings.peers,
            queue_size=settings.peer_queue,
            timeout_s=settings.peer_timeout_ms / 1000,
            keepalive_ms=settings.keepalive_ms,
        )
        self.failed = asyncio.Event()
        self.failure: str | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_term = self.replica.core.term
        self._last_leader = self.replica.core.leader_id
        self._log = _log.bind(node=settings.id)

    # ---- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Start the ticker, the Ready loop and the peer senders (in the running loop)."""
        self.transport.start()
        self._tasks = [
            asyncio.create_task(self._ticker(), name="ticker"),
            asyncio.create_task(self._ready_loop(), name="ready-loop"),
        ]
        self._wake.set()

    async def stop(self, reason: str = "the node is shutting down") -> None:
        """Stop the loops, give waiting requests their outcome, close peers and storage."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.replica.fail_pending(reason)
        await self.transport.close()
        with contextlib.suppress(Exception):
            self.replica.storage.close()

    # ---- inputs -------------------------------------------------------------

    def step(self, message: Message) -> None:
        """Deliver a message from a peer (ignored once the node failed)."""
        if self.failed.is_set():
            return
        self.replica.step(message)
        self._wake.set()

    def propose(self, command: Command) -> asyncio.Future[ProposalOutcome]:
        """Propose a command; the future resolves with its one outcome.

        Raises:
            NotLeader: this node does not lead.
            ProposalDropped: a leadership transfer is under way.
        """
        future: asyncio.Future[ProposalOutcome] = asyncio.get_running_loop().create_future()
        self.replica.propose(command, _settler(future))
        self._wake.set()
        return future

    def read(self, key: str) -> asyncio.Future[ReadOutcome]:
        """A linearizable read (ReadIndex); the future resolves with its one outcome.

        Raises:
            NotLeader: no leader is known.
        """
        future: asyncio.Future[ReadOutcome] = asyncio.get_running_loop().create_future()
        self.replica.read(key, _settler(future))
        self._wake.set()
        return future

    def read_stale(self, key: str) -> str | None:
        """UNSAFE: this replica's current value, however far behind it is."""
        return self.replica.read_stale(key)

    def transfer_leader(self, to: NodeId) -> None:
        """Ask for leadership to move to ``to``.

        Raises:
            UnknownNode: ``to`` is not a voter.
            NotLeader: no leader is known to forward the request to.
        """
        self.replica.core.transfer_leader(to)
        self._wake.set()

    # ---- inspection ---------------------------------------------------------

    @property
    def leader_id(self) -> NodeId:
        """The leader this node knows of (0 for none)."""
        return self.replica.core.leader_id

    def status(self) -> NodeStatus:
        """What this node knows right now."""
        core = self.replica.core
        status = core.status()
        leader = status.leader_id
        progress = {
            p.id: (p.match, p.next, p.state) for p in status.progress if p.id != self.settings.id
        }
        return NodeStatus(
            id=status.id,
            role=status.role.value,
            term=status.term,
            leader_id=leader,
            leader_address=self.settings.client_address(leader) if leader else "",
            commit_index=status.commit_index,
            applied_index=self.replica.kv.applied_index,
            first_index=status.first_index,
            last_index=status.last_index,
            snapshot_index=self.replica.snapshot_index,
            progress=progress if status.role is Role.LEADER else {},
        )

    # ---- loops --------------------------------------------------------------

    async def _ticker(self) -> None:
        interval = self.settings.tick_ms / 1000
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += interval
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            if loop.time() - deadline > 10 * interval:
                deadline = loop.time()  # the loop stalled; don't burst ticks to catch up
            self.replica.tick()
            self._wake.set()

    async def _ready_loop(self) -> None:
        replica = self.replica
        while True:
            await self._wake.wait()
            self._wake.clear()
            while (ready := replica.next_ready()) is not None:
                try:
                    if replica.needs_disk(ready):
                        await asyncio.to_thread(replica.persist, ready)
                    else:
                        replica.persist(ready)  # commit index only: no disk IO
                except StorageFailure as exc:
                    self._fail(f"storage failed: {exc}")
                    return
                messages = replica.complete(ready)
                self.transport.send(messages)
                self._note_changes()

    def _note_changes(self) -> None:
        core = self.replica.core
        if core.term != self._last_term:
            self._log.info("raft_term_changed", term=core.term, previous=self._last_term)
            self._last_term = core.term
        if core.leader_id != self._last_leader:
            self._log.info(
                "raft_leader_changed",
                leader=core.leader_id,
                previous=self._last_leader,
                term=core.term,
            )
            self._last_leader = core.leader_id

    def _fail(self, reason: str) -> None:
        self.failure = reason
        self._log.error("node_stopping", reason=reason)
        self.replica.fail_pending(reason)
        self.failed.set()
