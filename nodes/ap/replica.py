"""One replica of the ``ap`` mode: every node accepts reads and writes locally, stamps
writes with its hybrid logical clock, and converges with its peers by anti-entropy.
UNSAFE for linearizability by design: available on both sides of a partition, it
resolves concurrent writes by last-writer-wins, so an acknowledged write can be
overwritten by a concurrent one from the other side (a lost update).

Rules: sans-IO but for the injected ``ApLog`` (the only IO, in ``persist``), so the node
server and the simulator drive the same object. A write is decided (``prepare``: its
timestamp, the cas comparison, the session check), made durable (``persist``, safe off the
caller's thread), then applied (``apply``) and only then acknowledged, so a read never
sees what a crash could take back. A peer's versions are merged the same way
(``prepare_merge``). Anti-entropy is push-based and idempotent: for every peer the
replica remembers the last local change the peer acknowledged and sends what changed
since (``outgoing``, ``acknowledged``); a restart forgets that and sends everything
again. Because merging is last-writer-wins on totally ordered timestamps, replicas that
exchanged every change agree, whatever the partitions in between. Client sessions
(client id + sequence number) make a retried write apply once while the replica runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nodes.ap.hlc import HybridClock, Timestamp
from nodes.ap.log import ApLog
from nodes.ap.store import LwwStore, Version
from nodes.kv import (
    Cas,
    Command,
    Delete,
    Get,
    KvResult,
    Mismatch,
    NotFound,
    Ok,
    Put,
    StaleSequence,
)

DEFAULT_BATCH = 256
"""Versions in one anti-entropy message, at most ..."""
DEFAULT_BATCH_BYTES = 4 << 20
"""... and about this many bytes of keys and values (one version always goes)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """A decided write: the versions to make durable, then the result to answer with."""

    versions: tuple[Version, ...]
    result: KvResult
    session: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncBatch:
    """What this replica sends one peer: changes after the peer's last acknowledgement,
    up to local change ``upto``."""

    versions: tuple[Version, ...]
    upto: int


@dataclass(slots=True)
class ApStats:
    """Counters for the status endpoint."""

    writes: int = 0
    merged: int = 0
    """Versions from peers that replaced the local ones."""
    received: int = 0
    """Versions received from peers (newer or not)."""
    sent: int = 0
    undelivered: dict[int, int] = field(default_factory=dict)
    """Peer -> versions this replica failed to deliver to it (cumulative)."""


class ApReplica:
    """The ``ap`` replica of one node.

    Args:
        node_id: this node's id (the tie-breaker of its timestamps).
        peers: the other nodes' ids.
        log: the durable log (``load`` is called here).
        physical_ms: the node's clock in milliseconds (faults included).
        max_sessions: how many clients' last results to remember.
    """

    def __init__(
        self,
        node_id: int,
        peers: Sequence[int],
        log: ApLog,
        physical_ms: Callable[[], int],
        *,
        max_sessions: int = 1024,
    ) -> None:
        self.id = node_id
        self.peers = tuple(sorted(p for p in peers if p != node_id))
        self.log = log
        self.store = LwwStore()
        for version in log.load():
            self.store.merge(version)
        floor = self.store.newest_stamp()
        self.clock = HybridClock(node_id, physical_ms, floor or Timestamp(0, 0, node_id))
        self._acked = dict.fromkeys(self.peers, 0)
        self._sessions: OrderedDict[str, tuple[int, KvResult]] = OrderedDict()
        self._max_sessions = max_sessions
        self.stats = ApStats(undelivered=dict.fromkeys(self.peers, 0))

    # ---- clients --------------------------------------------------------------------

    def read(self, key: str) -> str | None:
        """This replica's value of ``key`` (None when absent or deleted)."""
        return self.store.get(key)

    def prepare(self, command: Command) -> Prepared:
        """Decide a client command against this replica's state (no IO, no change yet)."""
        session = None
        if command.client_id is not None and command.seq is not None:
            session = (command.client_id, command.seq)
            seen = self._sessions.get(command.client_id)
            if seen is not None and command.seq == seen[0]:
                return Prepared(versions=(), result=seen[1])
            if seen is not None and command.seq < seen[0]:
                return Prepared(versions=(), result=StaleSequence(last_seq=seen[0]))
        store = self.store
        match command:
            case Get(key=key):
                value = store.get(key)
                found: KvResult = NotFound() if value is None else Ok(value=value)
                return Prepared(versions=(), result=found)
            case Put(key=key, value=value):
                version = Version(key=key, value=value, stamp=self.clock.now())
                return Prepared(versions=(version,), result=Ok(), session=session)
            case Delete(key=key):
                if store.get(key) is None:
                    return Prepared(versions=(), result=NotFound(), session=session)
                version = Version(key=key, value=None, stamp=self.clock.now())
                return Prepared(versions=(version,), result=Ok(), session=session)
            case Cas(key=key, expected=expected, new=new):
                current = store.get(key)
                if current != expected:
                    return Prepared(versions=(), result=Mismatch(current=current),
                                    session=session)
                version = Version(key=key, value=new, stamp=self.clock.now())
                return Prepared(versions=(version,), result=Ok(), session=session)
        msg = f"not a KV command: {command!r}"  # pragma: no cover - the match is exhaustive
        raise TypeError(msg)

    def persist(self, prepared: Prepared) -> None:
        """Make a prepared change durable (the only IO; may run off the caller's thread).

        Raises:
            StorageFailure: the disk failed; the node must stop.
        """
        self.log.append(prepared.versions)

    def apply(self, prepared: Prepared) -> KvResult:
        """After ``persist``: apply the change and remember the session's result."""
        for version in prepared.versions:
            if self.store.merge(version):
                self.stats.writes += 1
        if prepared.session is not None:
            client_id, seq = prepared.session
            self._sessions[client_id] = (seq, prepared.result)
            self._sessions.move_to_end(client_id)
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
        return prepared.result

    def execute(self, command: Command) -> KvResult:
        """``prepare``, ``persist`` and ``apply`` in one call (for drivers that never wait).

        Raises:
            StorageFailure: the disk failed; the node must stop.
        """
        prepared = self.prepare(command)
        self.persist(prepared)
        return self.apply(prepared)

    # ---- peers ------------------------------------------------------------------------

    def prepare_merge(self, versions: Sequence[Version]) -> Prepared:
        """A peer's versions: observe their timestamps and keep those newer than ours."""
        newest: dict[str, Version] = {}
        for version in versions:
            self.clock.observe(version.stamp)
            held = newest.get(version.key)
            if (held is None or version.stamp > held.stamp) and self.store.newer(version):
                newest[version.key] = version
        self.stats.received += len(versions)
        return Prepared(versions=tuple(newest.values()), result=Ok())

    def apply_merge(self, prepared: Prepared) -> int:
        """After ``persist``: apply a peer's newer versions; returns how many replaced ours."""
        replaced = sum(1 for version in prepared.versions if self.store.merge(version))
        self.stats.merged += replaced
        return replaced

    def receive(self, versions: Sequence[Version]) -> int:
        """Merge a peer's versions durably in one call; returns how many replaced ours.

        Raises:
            StorageFailure: the disk failed; the node must stop.
        """
        prepared = self.prepare_merge(versions)
        self.persist(prepared)
        return self.apply_merge(prepared)

    def outgoing(
        self, peer: int, limit: int = DEFAULT_BATCH, max_bytes: int = DEFAULT_BATCH_BYTES
    ) -> SyncBatch | None:
        """What ``peer`` has not acknowledged yet (None: it has everything)."""
        acked = self._acked.get(peer)
        if acked is None:
            msg = f"node {peer} is not a peer of node {self.id}"
            raise KeyError(msg)
        versions, upto = self.store.changed_since(acked, limit, max_bytes)
        if not versions:
            return None
        return SyncBatch(versions=tuple(versions), upto=upto)

    def acknowledged(self, peer: int, batch: SyncBatch) -> None:
        """``peer`` durably merged ``batch``."""
        self._acked[peer] = max(self._acked[peer], batch.upto)
        self.stats.sent += len(batch.versions)

    def undelivered(self, peer: int, batch: SyncBatch) -> None:
        """Sending ``batch`` to ``peer`` failed (it will be sent again)."""
        self.stats.undelivered[peer] = self.stats.undelivered.get(peer, 0) + len(batch.versions)

    def behind(self, peer: int) -> int:
        """Local changes ``peer`` has not acknowledged."""
        return max(0, self.store.seq - self._acked.get(peer, 0))

    def maybe_compact(self) -> bool:
        """Rewrite the log when it outgrew the live state (see ``ApLog``); True if it did.

        Raises:
            StorageFailure: the disk failed; the node must stop.
        """
        if not self.log.wants_compaction(len(self.store)):
            return False
        self.log.compact(self.store.versions())
        return True
