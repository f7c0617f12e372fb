"""One node's replica: the Raft core, its storage and the KV state machine, wired
together in the order the core's ``Ready`` contract demands.

Rules: synchronous, and free of sockets, clocks, threads and asyncio, so that
the gRPC server and the deterministic simulator drive the very same code, with
the very same loop (``Replica`` documents it). The only IO is through the
injected ``Storage``, and only in ``write``. Outcomes reach callers through
callbacks, always one per request, and always honest: ``Applied`` (took
effect, with its result), ``NotApplied`` (certainly took no effect) or
``Unknown`` (may or may not have taken effect).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog

from nodes.kv import Command, KvResult, KvStateMachine, encode_command
from nodes.raft import (
    NO_NODE,
    Config,
    EntryType,
    Message,
    NotLeader,
    RaftCore,
    Ready,
    Role,
    Snapshot,
)
from nodes.storage import Storage

_log = structlog.get_logger()

DEFAULT_SNAPSHOT_EVERY = 10_000
"""Compact the log once this many applied entries follow the last snapshot."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    """The command was committed and applied; ``result`` is what it did."""

    result: KvResult


@dataclass(frozen=True, slots=True, kw_only=True)
class NotApplied:
    """The command certainly took no effect (its log slot went to another entry)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unknown:
    """The command may or may not have taken effect (e.g. a snapshot replaced its slot)."""

    reason: str


ProposalOutcome = Applied | NotApplied | Unknown
ProposalCallback = Callable[[ProposalOutcome], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadDone:
    """A linearizable read: ``value`` (None when the key is absent)."""

    value: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadFailed:
    """The read will never be served by this node (it certainly observed nothing)."""

    reason: str


ReadOutcome = ReadDone | ReadFailed
ReadCallback = Callable[[ReadOutcome], None]


@dataclass(slots=True)
class _ReadBatch:
    """Reads that share one ReadIndex round (they arrived before it was requested)."""

    reads: list[tuple[str, ReadCallback]]
    index: int = -1
    """The ReadIndex once the core confirmed it; -1 while waiting for the core."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaOptions:
    """Replica settings beyond the Raft ``Config``."""

    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY
    """Compact once this many entries were applied since the last snapshot (>= 1)."""
    max_sessions: int = 1024
    unsafe_disable_session_dedupe: bool = False
    """UNSAFE lab switch (seeded bug): retried commands apply again."""

    def __post_init__(self) -> None:
        if self.snapshot_every < 1:
            msg = f"snapshot_every must be at least 1, got {self.snapshot_every}"
            raise ValueError(msg)


@dataclass(slots=True)
class ReplicaStats:
    """Counters for status endpoints and benchmarks."""

    readies: int = 0
    entries_persisted: int = 0
    entries_applied: int = 0
    snapshots_taken: int = 0
    snapshots_installed: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadyBatch:
    """One turn of the Ready loop: what ``write`` makes durable, then ``finish`` completes."""

    ready: Ready
    """The core's Ready (empty when only ``compaction`` waits to be saved)."""
    compaction: Snapshot | None = None
    """A snapshot of this replica's own state machine, taken when the previous batch
    finished; saved before ``ready``'s contents (it covers applied entries only)."""
    needs_disk: bool = False
    """Whether ``write`` touches the disk; a commit-only batch does not, so a driver may
    write it inline instead of paying a thread hop or an fsync's delay."""


class Replica:
    """Drives one node: feed it ticks, messages and requests; send what it returns.

    Inputs (``tick``, ``step``, ``propose``, ``read``, ``core.transfer_leader``) go
    into the core the moment they arrive, never held back. Every driver (the node
    server, the simulator, the tests) then runs this one loop, woken by any input::

        while (batch := replica.next_batch()) is not None:
            replica.write(batch)                # storage only: fsync
            messages = replica.finish(batch)    # apply, serve reads, advance
            send(messages)

    ``write`` touches nothing but storage, so a driver may run it off its event
    loop (a thread, or a simulated fsync delay) while inputs keep arriving: they
    are batched into the next Ready (group commit). ``next_batch`` and ``finish``
    run where the inputs run. Compaction is part of the loop: ``finish`` snapshots
    the state machine in memory when enough entries were applied, and the next
    ``write`` saves it, under the same ``StorageFailure`` guard as every other
    write. A ``StorageFailure`` out of ``write``, or any exception out of the loop,
    means the node must stop (``fail_pending``, then exit).

    Args:
        config: the Raft configuration (this node's id and the voters).
        storage: where state is persisted; ``load()`` is called here.
        rng: the only source of randomness (the core's election timeouts).
        options: snapshot cadence and KV settings.
    """

    def __init__(
        self,
        config: Config,
        storage: Storage,
        rng: random.Random,
        options: ReplicaOptions | None = None,
    ) -> None:
        self.options = options or ReplicaOptions()
        self.storage = storage
        self.kv = KvStateMachine(
            max_sessions=self.options.max_sessions,
            unsafe_disable_session_dedupe=self.options.unsafe_disable_session_dedupe,
        )
        restored = storage.load()
        if restored.snapshot is not None:
            self.kv.restore(restored.snapshot.data)
        self.core = RaftCore(config, rng, restored)
        self._term_vote = (restored.hard_state.term, restored.hard_state.vote)
        self._snapshot_index = restored.snapshot.meta.index if restored.snapshot else 0
        self._proposals: dict[int, tuple[int, ProposalCallback]] = {}
        self._reads: dict[bytes, _ReadBatch] = {}
        self._unsent_reads: list[tuple[str, ReadCallback]] = []
        self._read_seq = 0
        self._unsaved_compaction: Snapshot | None = None
        self.stats = ReplicaStats()
        self._log = _log.bind(node=config.id)

    @property
    def id(self) -> int:
        """This node's id."""
        return self.core.id

    # ---- inputs -------------------------------------------------------------

    def tick(self) -> None:
        """One unit of logical time (the caller's ticker decides how long that is)."""
        self.core.tick()

    def step(self, message: Message) -> None:
        """Deliver a message from a peer."""
        self.core.step(message)

    def propose(self, command: Command, callback: ProposalCallback) -> int:
        """Append a command to the log; ``callback`` gets exactly one outcome later.

        Returns:
            The log index the command was given.

        Raises:
            NotLeader: this node is not the leader (``leader_hint`` says who may be).
            ProposalDropped: a leadership transfer is under way.
        """
        index, term = self.core.propose(encode_command(command))
        self._proposals[index] = (term, callback)
        return index

    def read(self, key: str, callback: ReadCallback) -> None:
        """A linearizable read (ReadIndex); ``callback`` gets exactly one outcome later.

        Reads that arrive before the next ``next_batch`` share one ReadIndex round
        (one heartbeat broadcast for the lot): the round is requested after every
        one of them arrived, so its index covers each of them.

        Raises:
            NotLeader: no leader is known to confirm the read with.
        """
        core = self.core
        if core.leader_id == NO_NODE:
            raise NotLeader(NO_NODE)
        self._unsent_reads.append((key, callback))

    def _request_read_index(self) -> None:
        batch, self._unsent_reads = self._unsent_reads, []
        self._read_seq += 1
        # Unique cluster-wide: a follower's reads meet other followers' at the leader.
        context = self.core.id.to_bytes(4, "big") + self._read_seq.to_bytes(8, "big")
        try:
            self.core.read_index(context)
        except NotLeader:
            for _, callback in batch:
                callback(ReadFailed(reason="no leader to confirm the read with"))
            return
        self._reads[context] = _ReadBatch(reads=batch)

    def read_stale(self, key: str) -> str | None:
        """UNSAFE for linearizability: this replica's current value, whatever its lag."""
        return self.kv.get(key)

    def fail_pending(self, reason: str) -> None:
        """Give every waiting request an outcome (the node is stopping).

        Proposals become ``Unknown`` (they may still commit elsewhere); reads fail.
        """
        proposals, self._proposals = self._proposals, {}
        for _, on_proposal in proposals.values():
            on_proposal(Unknown(reason=reason))
        batches = [*self._reads.values(), _ReadBatch(reads=self._unsent_reads)]
        self._reads, self._unsent_reads = {}, []
        for batch in batches:
            for _, on_read in batch.reads:
                on_read(ReadFailed(reason=reason))

    # ---- the Ready loop (see the class docstring) -----------------------------

    def handle_ready(self) -> tuple[Message, ...]:
        """One whole turn of the loop in a single call (for drivers that never wait).

        Returns:
            The messages to send now: everything they promise is already durable.

        Raises:
            StorageFailure: persisting failed; the node must stop.
        """
        batch = self.next_batch()
        if batch is None:
            return ()
        self.write(batch)
        return self.finish(batch)

    def next_batch(self) -> ReadyBatch | None:
        """Cut the next batch: the core's Ready and any unsaved compaction; None when idle."""
        if self._unsent_reads:
            self._request_read_index()
        compaction, self._unsaved_compaction = self._unsaved_compaction, None
        if self.core.has_ready():
            self.stats.readies += 1
            ready = self.core.ready()
        elif compaction is not None:
            ready = Ready()
        else:
            return None
        needs_disk = compaction is not None or self.needs_disk(ready)
        return ReadyBatch(ready=ready, compaction=compaction, needs_disk=needs_disk)

    def needs_disk(self, ready: Ready) -> bool:
        """Whether persisting ``ready`` writes to disk (entries, a snapshot, a new term or vote).

        A batch that only moves the commit index is bookkeeping: a driver may
        persist it inline instead of paying a thread hop.
        """
        hard = ready.hard_state
        return bool(
            ready.entries
            or ready.snapshot is not None
            or (hard is not None and (hard.term, hard.vote) != self._term_vote)
        )

    def write(self, batch: ReadyBatch) -> None:
        """Make the batch durable: storage IO only, safe off the thread the inputs run on.

        Raises:
            StorageFailure: persisting failed; the node must stop.
        """
        storage = self.storage
        if batch.compaction is not None:
            storage.save_snapshot(batch.compaction)
        ready = batch.ready
        hard = ready.hard_state
        if ready.snapshot is not None:
            if hard is not None and (hard.term, hard.vote) != self._term_vote:
                # A term is durable before anything of that term (storage refuses to
                # start from a log newer than its hard state); commit waits for the log.
                early = replace(hard, commit=min(hard.commit, storage.last_index))
                storage.save(hard_state=early, entries=())
            storage.save_snapshot(ready.snapshot)
        if ready.entries or ready.hard_state is not None:
            storage.save(hard_state=ready.hard_state, entries=ready.entries)
            self.stats.entries_persisted += len(ready.entries)
        if ready.hard_state is not None:
            self._term_vote = (ready.hard_state.term, ready.hard_state.vote)

    def finish(self, batch: ReadyBatch) -> tuple[Message, ...]:
        """After ``write``: apply, serve reads, advance; returns the messages to send."""
        core = self.core
        ready = batch.ready
        if ready.soft_state is not None:
            self._log.info(
                "raft_role_changed",
                role=ready.soft_state.role.value,
                leader=ready.soft_state.leader_id,
                term=core.term,
            )
        for warning in ready.warnings:
            self._log.error("raft_anomaly", detail=warning, term=core.term)
        if ready.snapshot is not None:
            self._install(ready.snapshot)
        self._apply(ready)
        self._serve_reads(ready)
        core.advance(ready)
        self._maybe_compact()
        return ready.messages

    def _install(self, snapshot: Snapshot) -> None:
        self.kv.restore(snapshot.data)
        self._snapshot_index = snapshot.meta.index
        self.stats.snapshots_installed += 1
        covered = [i for i in self._proposals if i <= snapshot.meta.index]
        for index in covered:
            _, callback = self._proposals.pop(index)
            callback(Unknown(reason="a snapshot from the leader replaced this entry's slot"))
        self._log.info("snapshot_installed", index=snapshot.meta.index, term=snapshot.meta.term)

    def _apply(self, ready: Ready) -> None:
        kv = self.kv
        proposals = self._proposals
        for entry in ready.committed_entries:
            if entry.index <= kv.applied_index:
                continue  # already covered by an installed snapshot
            data = entry.data if entry.type is EntryType.NORMAL else b""
            result = kv.apply(entry.index, data)
            self.stats.entries_applied += 1
            waiting = proposals.pop(entry.index, None)
            if waiting is None:
                continue
            term, callback = waiting
            if term == entry.term:
                callback(Applied(result=result))
            else:
                callback(NotApplied(reason=f"log slot {entry.index} went to term {entry.term}"))

    def _serve_reads(self, ready: Ready) -> None:
        reads = self._reads
        for context in ready.dropped_reads:
            dropped = reads.pop(context, None)
            if dropped is not None:
                for _, callback in dropped.reads:
                    callback(ReadFailed(reason="leadership lost before the read was confirmed"))
        for state in ready.read_states:
            confirmed = reads.get(state.context)
            if confirmed is not None:
                confirmed.index = state.index
        applied = self.kv.applied_index
        done = [c for c, b in reads.items() if 0 <= b.index <= applied]
        kv = self.kv
        for context in done:
            for key, callback in reads.pop(context).reads:
                callback(ReadDone(value=kv.get(key)))

    def _maybe_compact(self) -> None:
        """Snapshot the state machine and compact the core's log, in memory; the next
        ``write`` saves the snapshot (until then storage still holds every entry)."""
        applied = self.kv.applied_index
        if applied - self._snapshot_index < self.options.snapshot_every:
            return
        self._unsaved_compaction = self.core.compact(applied, self.kv.snapshot())
        self._snapshot_index = applied
        self.stats.snapshots_taken += 1
        self._log.debug("snapshot_taken", index=applied)

    # ---- inspection ---------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """Whether this node currently leads."""
        return self.core.role is Role.LEADER

    @property
    def snapshot_index(self) -> int:
        """The index the latest snapshot (taken or installed) covers; 0 for none."""
        return self._snapshot_index

    @property
    def pending(self) -> int:
        """Requests still waiting for an outcome."""
        waiting = sum(len(b.reads) for b in self._reads.values())
        return len(self._proposals) + waiting + len(self._unsent_reads)


__all__ = [
    "Applied",
    "NotApplied",
    "ProposalOutcome",
    "ReadDone",
    "ReadFailed",
    "ReadOutcome",
    "ReadyBatch",
    "Replica",
    "ReplicaOptions",
    "ReplicaStats",
    "Unknown",
]
