"""A simulated cluster: real ``Replica`` objects on a simulated disk and network.

Rules: every node runs the production Raft core, KV state machine and WAL
storage code; only the world around them is simulated (``SimFileSystem`` for
the disk, ``SimNetwork`` for the wire, ``Scheduler`` for the clock). A crash
drops the node's in-memory state and its disk's unsynced writes; a restart
recovers from what the disk kept, exactly as a real process would. A paused
node keeps its state; messages sent to it wait and arrive when it resumes.
Faults can be aimed at protocol moments (``CrashPoint``, ``leading_trap``),
which only a simulator can do; every finished Ready is shown to the Raft
invariant monitor (``invariants``). Each node runs ``Replica``'s documented
Ready loop, as the node server does: a batch that reaches the disk waits for a
simulated fsync before it is finished and its messages leave, and inputs that
arrive meanwhile join the next batch.

In-node faults, as on real nodes: each node has its own clock (``nodes.clock``: its
ticks follow the clock's rate, its lease and HLC read it) and its disk goes through the
same disk failpoints as a real node's (``nodes.storage.faults``; a slow disk lengthens
the simulated fsync, an error or a full disk makes the node fail stop, recorded in
``storage_failures``). A restart brings a fresh process: true time, a healthy disk.
The consistency mode is the cluster's: ``lease`` gives each node ``LeaseReads``, ``ap``
runs no Raft at all but an ``ApReplica`` per node over the node's disk, pushing changes
to its peers every tick over the same simulated network (``experiments.sim.ap``).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import PurePosixPath
from typing import Any

from experiments.sim.ap import ApAck, ApPush, ApSync, boot_ap
from experiments.sim.events import NS_PER_MS, Scheduler
from experiments.sim.invariants import RaftInvariants
from experiments.sim.network import LinkConditions, SimNetwork
from experiments.spec.model import CONSISTENCIES
from nodes.ap import ApReplica
from nodes.clock import NodeClock
from nodes.lease import LeaseReads, lease_ns
from nodes.raft import Config, InvariantViolation, Message, MessageType, Role
from nodes.replica import ReadyBatch, Replica, ReplicaOptions
from nodes.storage import (
    FileSystem,
    SimFileSystem,
    SimulatedCrash,
    Storage,
    StorageError,
    StorageFailure,
    SyncPolicy,
    WalStorage,
)
from nodes.storage.faults import DiskFailpoints, DiskFault, FaultyFileSystem
from nodes.timing import DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS, DEFAULT_TICK_MS

DATA_DIR = PurePosixPath("/data")
MAX_READY_ROUNDS = 64
"""Bound on batches one wake-up of a node's Ready loop handles without a disk wait."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimTiming:
    """Raft timing in the simulator, chosen to match the node server's defaults."""

    tick_ms: int = DEFAULT_TICK_MS
    election_tick: int = DEFAULT_ELECTION_TICKS
    heartbeat_tick: int = DEFAULT_HEARTBEAT_TICKS
    snapshot_every: int = 500
    """Small on purpose, so snapshot install is exercised in every long run."""
    fsync_us: tuple[int, int] = (200, 600)
    """Bounds of one fsync's duration: a node sends a Ready's messages only after it,
    and inputs arriving meanwhile are batched into the next Ready (group commit)."""

    @property
    def tick_ns(self) -> int:
        """One tick in nanoseconds."""
        return self.tick_ms * NS_PER_MS


StorageFactory = Callable[[Any, PurePosixPath, SyncPolicy], Storage]
"""Builds a node's storage over its simulated disk (seeded bugs substitute their own). The
disk it gets is the node's ``SimFileSystem`` behind its disk failpoints (a ``FileSystem``;
typed loosely so factories written for a bare ``SimFileSystem`` still fit)."""


def _no_sleep(_seconds: float) -> None:
    """A slow simulated disk waits in simulated time (a longer fsync), never for real."""


def wal_storage(fs: FileSystem, directory: PurePosixPath, sync: SyncPolicy) -> Storage:
    """The production storage over a simulated disk."""
    return WalStorage(fs, directory, sync=sync)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeVariant:
    """How the nodes of a run are built: the production defaults or a seeded bug."""

    config_overrides: dict[str, bool] = field(default_factory=dict)
    """Extra ``Config`` fields (the ``unsafe_*`` switches)."""
    options: ReplicaOptions = field(default_factory=ReplicaOptions)
    sync: SyncPolicy = SyncPolicy.ALWAYS
    storage_factory: StorageFactory = wal_storage


class CrashPoint(enum.Enum):
    """Protocol moments at which an armed node crashes (see ``SimCluster.arm_crash``).

    A real test can only kill a process at a random instant; the simulator can
    kill it at the instants where forgetting something matters most.
    """

    AFTER_SEND = "after-send"
    """Right after its next batch of messages went out (an append acknowledged, say)."""
    AFTER_VOTE = "after-vote"
    """Right after it next grants a vote: the grant is on the wire, the process gone."""
    LEADING_UNSENT = "leading-unsent"
    """The next time it leads with a batch to send: the batch's entries (a new
    leader's first entry, a fresh proposal) are durable on its disk only."""


@dataclass(slots=True)
class SimNode:
    """One node: its disk survives crashes; its replica does not."""

    id: int
    fs: SimFileSystem
    replica: Replica | None = None
    paused: bool = False
    inbox: list[tuple[int, Message | ApPush | ApAck]] = field(default_factory=list)
    """Messages that arrived while paused, delivered on resume."""
    busy: bool = False
    """Waiting for an fsync: the next batch waits too."""
    synced: ReadyBatch | None = None
    """A batch whose fsync completed while the node was paused: finished on resume."""
    crash_at: CrashPoint | None = None
    """Crash at this moment (see ``arm_crash``)."""
    clock: NodeClock | None = None
    """The running process's clock (None while crashed)."""
    disk: DiskFailpoints = field(default_factory=lambda: DiskFailpoints(sleep=_no_sleep))
    """The disk failpoints in force (a restart clears them)."""
    lease: LeaseReads | None = None
    ap: ApReplica | None = None
    """The ``ap`` mode's replica (no Raft replica then)."""
    ap_sync: ApSync | None = None

    @property
    def up(self) -> bool:
        """Running (not crashed); a paused node is up but idle."""
        return self.replica is not None or self.ap is not None


class SimCluster:
    """N nodes wired through a ``SimNetwork``, each ticking on the simulated clock.

    Args:
        size: number of nodes (ids 1..size).
        seed: the run's seed; every random stream is derived from it.
        scheduler: the simulated clock.
        timing: Raft timing.
        variant: production nodes or a seeded bug.
        link: default network conditions.
        consistency: the mode (``cp``, ``lease``, ``stale`` or ``ap``).
    """

    def __init__(
        self,
        size: int,
        seed: int,
        scheduler: Scheduler,
        *,
        timing: SimTiming | None = None,
        variant: NodeVariant | None = None,
        link: LinkConditions | None = None,
        consistency: str = "cp",
    ) -> None:
        if consistency not in CONSISTENCIES:
            msg = f"consistency {consistency!r} is not one of {', '.join(CONSISTENCIES)}"
            raise ValueError(msg)
        self.seed = seed
        self.scheduler = scheduler
        self.timing = timing or SimTiming()
        self.variant = variant or NodeVariant()
        self.consistency = consistency
        self.voters = tuple(range(1, size + 1))
        self.network: SimNetwork[Message | ApPush | ApAck] = SimNetwork(
            scheduler=scheduler,
            rng=random.Random(f"{seed}:network"),
            deliver=self._deliver,
            default=link or LinkConditions(),
        )
        self.nodes = {
            i: SimNode(id=i, fs=SimFileSystem(random.Random(f"{seed}:disk:{i}"), torn_writes=True))
            for i in self.voters
        }
        self.invariants = RaftInvariants()
        self.leading_trap: Callable[[int], None] | None = None
        """Called with a node's id whenever it leads with freshly persisted entries to
        send, before they leave (a nemesis crashes or cuts off the node there)."""
        self._disk_rng = random.Random(f"{seed}:fsync")
        self._boots = dict.fromkeys(self.voters, 0)
        self.crashes = 0
        self.boot_failures: list[str] = []
        self.storage_failures: list[str] = []
        """Nodes that stopped because their disk failed (what a disk fault must cause)."""
        for node in self.nodes.values():
            self._boot(node)

    # ---- lifecycle ----------------------------------------------------------

    def _boot(self, node: SimNode) -> None:
        self._boots[node.id] += 1
        boot = self._boots[node.id]
        node.clock = NodeClock(lambda: self.scheduler.now)
        node.disk = DiskFailpoints(sleep=_no_sleep)
        disk = FaultyFileSystem(node.fs, node.disk)
        if self.consistency == "ap":
            node.ap, node.ap_sync = boot_ap(self, node.id, disk, node.clock)
            self.network.down.discard(node.id)
            return
        variant = self.variant
        config = Config(
            id=node.id,
            voters=self.voters,
            election_tick=self.timing.election_tick,
            heartbeat_tick=self.timing.heartbeat_tick,
            **variant.config_overrides,
        )
        storage = variant.storage_factory(disk, DATA_DIR, variant.sync)
        node.replica = Replica(
            config,
            storage,
            random.Random(f"{self.seed}:raft:{node.id}:{boot}"),
            replace(variant.options, snapshot_every=self.timing.snapshot_every),
        )
        node.lease = None
        if self.consistency == "lease":
            duration = lease_ns(self.timing.election_tick, self.timing.tick_ns)
            node.lease = LeaseReads(node.replica, node.clock.now, duration)
        tick_ns = self.timing.tick_ns
        phase = random.Random(f"{self.seed}:phase:{node.id}:{boot}").randrange(tick_ns)
        self.scheduler.post_later(phase, partial(self._tick, node, node.replica))
        self.network.down.discard(node.id)

    def crash(self, node_id: int) -> None:
        """Kill -9: in-memory state and unsynced disk writes are lost."""
        node = self.nodes[node_id]
        if not node.up:
            return
        if node.replica is not None:
            node.replica.fail_pending("node crashed")
        node.replica = None
        node.lease = None
        node.ap = None
        node.ap_sync = None
        node.clock = None
        node.paused = False
        node.busy = False
        node.synced = None
        node.crash_at = None
        node.inbox.clear()
        node.fs.crash()
        self.network.down.add(node_id)
        self.crashes += 1

    def restart(self, node_id: int) -> None:
        """Start a crashed node again from what its disk kept.

        A node whose storage refuses to start (damage recovery must not paper
        over) stays down, and the refusal is recorded in ``boot_failures``:
        with correct storage that never happens, so it is a finding.
        """
        node = self.nodes[node_id]
        if node.up:
            return
        try:
            self._boot(node)
        except StorageError as exc:
            self.boot_failures.append(f"n{node_id}: {exc}")

    def fail_stop(self, node_id: int, reason: str) -> None:
        """The node's disk failed: it stops, as the node server does (exit 1), until a
        restart. Recorded in ``storage_failures``: expected under a disk fault."""
        if not self.nodes[node_id].up:
            return
        self.storage_failures.append(f"n{node_id}: {reason}")
        self.crash(node_id)

    def arm_crash(self, node_id: int, at: CrashPoint | int) -> None:
        """Crash the node at a chosen moment, then restart it 1-30 ms later.

        Args:
            node_id: the node.
            at: a protocol moment, or an int ``n``: inside storage, in the middle
                of the ``n``-th next disk write or fsync (e.g. a vote durable but
                not yet sent).
        """
        node = self.nodes[node_id]
        if node.replica is None:
            return
        if isinstance(at, CrashPoint):
            node.crash_at = at
        else:
            node.fs.crash_after(at)

    def crash_and_restart(self, node_id: int) -> None:
        """Crash the node now and restart it 1-30 ms later."""
        self.crash(node_id)
        delay = self._disk_rng.randint(1, 30) * NS_PER_MS
        self.scheduler.call_later(delay, partial(self.restart, node_id))

    def pause(self, node_id: int) -> None:
        """SIGSTOP: the node keeps its state but neither ticks nor handles messages."""
        self.nodes[node_id].paused = True

    def resume(self, node_id: int) -> None:
        """SIGCONT: queued messages arrive, ticking goes on."""
        node = self.nodes[node_id]
        if not node.paused:
            return
        node.paused = False
        synced, node.synced = node.synced, None
        replica = node.replica
        if synced is not None and replica is not None:
            self._synced(node, replica, synced)
        inbox, node.inbox = node.inbox, []
        for src, message in inbox:
            self._deliver(src, node.id, message)

    # ---- the event loop's hooks ---------------------------------------------

    def tick_interval(self, node: SimNode) -> int:
        """One tick of ``node``'s clock, in true (simulated) ns: a slow clock ticks slowly."""
        rate = 1.0 if node.clock is None else node.clock.rate
        tick_ns = self.timing.tick_ns
        return tick_ns if rate == 1.0 else max(1, round(tick_ns / rate))

    def _tick(self, node: SimNode, replica: Replica) -> None:
        if node.replica is not replica:
            return  # crashed since: its ticker died with it (a restart starts a new one)
        self.scheduler.post_later(self.tick_interval(node), partial(self._tick, node, replica))
        if node.paused:
            return
        replica.tick()
        if node.lease is not None:
            node.lease.tick()
        self._pump(node)

    def _deliver(self, src: int, dst: int, message: Message | ApPush | ApAck) -> None:
        node = self.nodes[dst]
        replica = node.replica
        if replica is None and node.ap is None:
            return  # not up
        if node.paused:
            node.inbox.append((src, message))
            return
        if not isinstance(message, Message):
            if node.ap_sync is not None:
                node.ap_sync.deliver(src, message)
            return
        if replica is None:
            return
        try:
            replica.step(message)
        except InvariantViolation as exc:
            self._stop_for_good(node, str(exc))
            return
        self._pump(node)

    def _stop_for_good(self, node: SimNode, error: str) -> None:
        """The node fails stop, as the server does; the violation is a finding."""
        self.invariants.node_stopped(node.id, error)
        self.crash(node.id)

    def pump(self, node_id: int) -> None:
        """Wake the node's Ready loop (``Replica``'s): cut a batch and write it; a batch
        that reached the disk finishes after a simulated fsync, any other at once."""
        self._pump(self.nodes[node_id])

    def _pump(self, node: SimNode) -> None:
        replica = node.replica
        if replica is None:
            return
        fs = node.fs
        for _ in range(MAX_READY_ROUNDS):
            if node.busy:
                return
            batch = replica.next_batch()
            if batch is None:
                return
            syncs = fs.syncs
            try:
                replica.write(batch)
            except SimulatedCrash:
                self.crash_and_restart(node.id)
                return
            except StorageFailure as exc:
                self.fail_stop(node.id, str(exc))
                return
            if fs.syncs != syncs:
                node.busy = True
                delay = self.fsync_delay(node)
                self.scheduler.post_later(delay, partial(self._synced, node, replica, batch))
                return
            if not self._finish(node, replica, batch):
                return

    def fsync_delay(self, node: SimNode) -> int:
        """How long one fsync of ``node`` takes, in ns (a slow disk adds its delay)."""
        low, high = self.timing.fsync_us
        delay = self._disk_rng.randint(low, high) * 1000
        if node.disk.fault is DiskFault.SLOW:
            node.disk.injected += 1
            delay += round(node.disk.delay_s * 1_000_000_000)
        return delay

    def _synced(self, node: SimNode, replica: Replica, batch: ReadyBatch) -> None:
        if node.replica is not replica:
            return  # crashed during the fsync: the batch dies with the process
        if node.paused:
            node.synced = batch  # a stopped process finishes nothing until it resumes
            return
        node.busy = False
        if self._finish(node, replica, batch):
            self._pump(node)

    def _finish(self, node: SimNode, replica: Replica, batch: ReadyBatch) -> bool:
        """Finish a written batch and send its messages; False: the node crashed."""
        messages = replica.finish(batch)
        ready = batch.ready
        self.invariants.observe(node.id, replica.core.term, ready)
        return self._release(node, replica, messages, fresh=bool(ready.entries))

    def _release(
        self, node: SimNode, replica: Replica, messages: tuple[Message, ...], *, fresh: bool
    ) -> bool:
        """Send a persisted batch, unless an armed crash point fires; False: it crashed.

        ``fresh``: the batch persisted new log entries.
        """
        point = node.crash_at
        if fresh and messages and replica.core.role is Role.LEADER:
            if point is CrashPoint.LEADING_UNSENT:
                self.crash_and_restart(node.id)
                return False
            if self.leading_trap is not None:
                self.leading_trap(node.id)
                if node.replica is not replica:
                    return False
        send = self.network.send
        node_id = node.id
        for message in messages:
            send(node_id, message.to, message)
        if point is None or not messages:
            return True
        if point is CrashPoint.AFTER_SEND or (
            point is CrashPoint.AFTER_VOTE
            and any(m.type is MessageType.VOTE_RESP and not m.reject for m in messages)
        ):
            self.crash_and_restart(node_id)
            return False
        return True

    # ---- inspection -----------------------------------------------------------

    def replica(self, node_id: int) -> Replica | None:
        """The node's live replica, or None when it is crashed or paused."""
        node = self.nodes[node_id]
        return None if node.paused else node.replica

    def ap_replica(self, node_id: int) -> ApReplica | None:
        """The node's live ap replica, or None when it is crashed or paused."""
        node = self.nodes[node_id]
        return None if node.paused else node.ap

    def leader(self) -> int | None:
        """The live leader with the highest term, if any."""
        best: tuple[int, int] | None = None
        for node in self.nodes.values():
            replica = node.replica
            if replica is None or node.paused or replica.core.role is not Role.LEADER:
                continue
            candidate = (replica.core.term, node.id)
            if best is None or candidate > best:
                best = candidate
        return None if best is None else best[1]
