"""The node's event loop: a ticker, the Ready loop and the requests that feed the replica.

Rules: the Ready loop is ``Replica``'s documented loop. Every replica call
happens on the asyncio loop thread, except ``Replica.write`` (storage only),
which runs in a worker thread when it touches the disk so fsync does not stall
the loop; core inputs keep arriving meanwhile and join the next batch (group
commit). Snapshot saves are such writes too. The Ready contract is followed
exactly: persist, then send, then nothing else sends. The node fails stop: a
``StorageFailure``, any exception out of the Ready loop or the ticker, or a core
that finds its own state impossible (``InvariantViolation``, e.g. a leader's
entry conflicting with a committed one) logs the cause, gives every waiting
request an honest outcome and sets ``failed``, for the caller to exit non-zero.
A dead loop never leaves a healthy-looking node behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from nodes.clock import NodeClock
from nodes.kv import Command
from nodes.lease import LeaseReads, lease_ns
from nodes.raft import NO_NODE, Config, Message, NodeId, Role
from nodes.replica import ProposalOutcome, ReadOutcome, Replica, ReplicaOptions
from nodes.server.config import Consistency, NodeSettings, Unsafe
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


def _unsafe_config(unsafe: set[Unsafe]) -> dict[str, bool]:
    """The core's ``unsafe_*`` switches for the node's UNSAFE lab switches."""
    overrides: dict[str, bool] = {}
    if Unsafe.LEADER_READS_WITHOUT_READINDEX in unsafe:
        overrides |= {"unsafe_leader_read_without_quorum": True, "check_quorum": False}
    if Unsafe.COMMIT_PRIOR_TERM in unsafe:
        overrides |= {"unsafe_commit_prior_term_by_count": True, "unsafe_skip_leader_noop": True}
    return overrides


class Node:
    """One running node: owns the replica and drives it from asyncio.

    Args:
        settings: validated settings.
        storage: the node's loaded-on-demand storage (``Replica`` calls ``load``).
        rng: randomness for election timeouts.
        clock: the node's clock (default: true time, ``time.monotonic_ns``).
    """

    def __init__(
        self,
        settings: NodeSettings,
        storage: Storage,
        rng: random.Random,
        clock: NodeClock | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or NodeClock(time.monotonic_ns)
        unsafe = set(settings.unsafe)
        config = Config(
            id=settings.id,
            voters=settings.voters,
            election_tick=settings.election_tick,
            heartbeat_tick=settings.heartbeat_tick,
            **_unsafe_config(unsafe),
        )
        options = ReplicaOptions(
            snapshot_every=settings.snapshot_every,
            unsafe_disable_session_dedupe=Unsafe.NO_SESSION_DEDUPE in unsafe,
        )
        self.replica = Replica(config, storage, rng, options)
        self.lease: LeaseReads | None = None
        if settings.consistency is Consistency.LEASE:
            duration = lease_ns(settings.election_tick, settings.tick_ms * 1_000_000)
            self.lease = LeaseReads(self.replica, self.clock.now, duration)
        self.transport = PeerTransport.from_settings(settings)
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
            asyncio.create_task(self._fail_stop("ticker", self._ticker()), name="ticker"),
            asyncio.create_task(
                self._fail_stop("ready loop", self._ready_loop()), name="ready-loop"
            ),
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
        """Deliver a message from a peer (ignored once the node failed).

        A core that raises here found its own state impossible (e.g. a leader's entry
        conflicts with one we committed: only a safety bug or lying storage does
        that): the node stops rather than reject the same message forever.
        """
        if self.failed.is_set():
            return
        try:
            self.replica.step(message)
        except Exception as exc:
            self._log.exception("raft_step_failed", frm=message.frm, type=message.type.value)
            self._fail(f"the raft core failed on a message from node {message.frm}: {exc}")
            return
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
        """A linearizable read (ReadIndex; in the ``lease`` mode, from the leader's lease
        while it holds); the future resolves with its one outcome.

        Raises:
            NotLeader: no leader is known.
        """
        future: asyncio.Future[ReadOutcome] = asyncio.get_running_loop().create_future()
        if self.lease is not None:
            self.lease.read(key, _settler(future))
        else:
            self.replica.read(key, _settler(future))
        self._wake.set()
        return future

    @property
    def leads(self) -> bool:
        """Whether this node is the leader (as far as it knows)."""
        return self.replica.core.role is Role.LEADER

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

    def dropped(self, peer: NodeId) -> int:
        """Messages to ``peer`` this node could not deliver so far."""
        return self.transport.dropped(peer)

    def health(self) -> tuple[bool, str]:
        """Healthy: running, storage fine, and a leader is known."""
        if self.failed.is_set():
            return False, f"stopped: {self.failure}"
        if self.leader_id == NO_NODE:
            return False, "no leader known (election or no quorum)"
        return True, f"leader is node {self.leader_id}"

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

    async def _fail_stop(self, name: str, loop: Coroutine[Any, Any, None]) -> None:
        """Run one of the node's loops; if it raises or ends, the node stops."""
        try:
            await loop
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log.exception("node_loop_died", loop=name)
            self._fail(f"the {name} died: {type(exc).__name__}: {exc}")
            return
        if not self.failed.is_set():
            self._fail(f"the {name} ended unexpectedly")

    async def _ticker(self) -> None:
        """Tick the replica every ``tick_ms`` from a chain of timer callbacks (no task
        switch per tick), waking the Ready loop only when a tick left it work."""
        interval = self.settings.tick_ms / 1000
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()
        deadline = loop.time()
        handle: asyncio.TimerHandle | None = None

        def schedule() -> None:
            nonlocal deadline, handle
            deadline += interval / self.clock.rate  # a slow clock ticks slowly
            handle = loop.call_at(deadline, tick)

        def tick() -> None:
            nonlocal deadline
            if ended.done():
                return
            try:
                if loop.time() - deadline > 10 * interval:
                    deadline = loop.time()  # the loop stalled; don't burst ticks to catch up
                if self.failed.is_set():
                    ended.set_result(None)
                    return
                self.replica.tick()
                if self.lease is not None:
                    self.lease.tick()
                    self._wake.set()
                elif self.replica.core.has_ready():
                    self._wake.set()
                schedule()
            except Exception as exc:  # handed to _fail_stop, which stops the node
                ended.set_exception(exc)

        schedule()
        try:
            await ended
        finally:
            if handle is not None:
                handle.cancel()

    async def _ready_loop(self) -> None:
        """``Replica``'s loop: cut a batch, write it (off the loop when it touches the
        disk), finish it, send; repeat until idle, then wait for the next input."""
        replica = self.replica
        while not self.failed.is_set():
            await self._wake.wait()
            self._wake.clear()
            while (batch := replica.next_batch()) is not None:
                try:
                    if batch.needs_disk:
                        await asyncio.to_thread(replica.write, batch)
                    else:
                        replica.write(batch)  # commit index only: no disk IO
                except StorageFailure as exc:
                    self._fail(f"storage failed: {exc}")
                    return
                if self.failed.is_set():
                    return  # failed while writing (e.g. a step): send nothing more
                messages = replica.finish(batch)
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
        if self.failed.is_set():
            return  # the first cause is the one worth reporting
        self.failure = reason
        self._log.error("node_stopping", reason=reason)
        self.replica.fail_pending(reason)
        self.failed.set()
