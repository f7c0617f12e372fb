"""An in-memory Raft cluster for tests: honest storage, a message queue, safety monitors.

Rules: no IO, no clocks; deterministic given its seed. A node's durable state
is only what it persisted from a ``Ready`` before that Ready's messages were
queued, so ``crash``/``restart`` rebuild a node exactly from what survived.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from nodes.raft.config import Config
from nodes.raft.core import RaftCore
from nodes.raft.describe import describe_entry
from nodes.raft.messages import (
    Entry,
    EntryType,
    HardState,
    Message,
    NodeId,
    RestoredState,
    Snapshot,
)
from nodes.raft.ready import Ready, Role


@dataclass(slots=True, kw_only=True)
class MemoryStorage:
    """What one node has made durable: hard state, latest snapshot, log entries after it."""

    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)

    def persist(self, rd: Ready) -> None:
        """Make a Ready's snapshot, entries and hard state durable (in that order)."""
        if rd.snapshot is not None:
            self.snapshot = rd.snapshot
            self.entries = []
        if rd.entries:
            first = rd.entries[0].index
            base = self.snapshot.meta.index if self.snapshot is not None else 0
            del self.entries[max(first - base - 1, 0) :]
            self.entries.extend(rd.entries)
        if rd.hard_state is not None:
            self.hard_state = rd.hard_state

    def compact(self, snap: Snapshot) -> None:
        """Keep ``snap`` and drop the entries it covers."""
        base = self.snapshot.meta.index if self.snapshot is not None else 0
        del self.entries[: snap.meta.index - base]
        self.snapshot = snap

    def restored(self) -> RestoredState:
        """What a restarting node recovers."""
        return RestoredState(
            hard_state=self.hard_state, snapshot=self.snapshot, entries=tuple(self.entries)
        )


def encode_commands(commands: Iterable[tuple[int, int, bytes]]) -> bytes:
    """Serialize a state machine (applied (index, term, data) commands) for a snapshot."""
    return b"\n".join(b"%d %d %s" % (i, t, d.hex().encode()) for i, t, d in commands)


def decode_commands(data: bytes) -> list[tuple[int, int, bytes]]:
    """Inverse of ``encode_commands``."""
    out: list[tuple[int, int, bytes]] = []
    for line in data.split(b"\n") if data else []:
        i, t, d = line.split(b" ")
        out.append((int(i), int(t), bytes.fromhex(d.decode())))
    return out


@dataclass(slots=True, kw_only=True)
class Node:
    """One cluster member: its core (None while crashed), storage and state machine."""

    config: Config
    rng: random.Random
    storage: MemoryStorage = field(default_factory=MemoryStorage)
    core: RaftCore | None = None
    commands: list[tuple[int, int, bytes]] = field(default_factory=list)
    """The state machine: applied NORMAL commands as (index, term, data)."""
    reads: list[tuple[bytes, int]] = field(default_factory=list)
    """Read states received, as (context, index)."""
    dropped_reads: list[bytes] = field(default_factory=list)

    @property
    def live(self) -> RaftCore:
        """The running core (the node must not be crashed)."""
        if self.core is None:
            msg = f"node {self.config.id} is crashed"
            raise LookupError(msg)
        return self.core


class Network:
    """A cluster of in-memory nodes sharing one queue of in-flight messages.

    Args:
        seed: seeds every node's RNG (node ``i`` gets ``seed * 1000 + i``).
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.nodes: dict[NodeId, Node] = {}
        self.queue: list[Message] = []
        self.events: list[str] = []
        """Human-readable happenings (role changes, reads, violations) since last taken."""
        self.violations: list[str] = []
        self._group: dict[NodeId, int] = {}
        self._applied_at: dict[int, Entry] = {}
        self._leaders: dict[int, NodeId] = {}
        self._read_floor: dict[bytes, int] = {}

    # ---------------------------------------------------------------- membership

    def add_nodes(self, count: int, make: Callable[[NodeId, tuple[NodeId, ...]], Config]) -> None:
        """Replace the cluster by ``count`` fresh nodes 1..count with ``make(id, voters)``.

        Queued messages, partitions, events and the safety monitors start afresh.
        """
        self.nodes = {}
        self.queue = []
        self.events = []
        self.violations = []
        self._group = {}
        self._applied_at = {}
        self._leaders = {}
        self._read_floor = {}
        voters = tuple(range(1, count + 1))
        for i in voters:
            cfg = make(i, voters)
            node = Node(config=cfg, rng=random.Random(self.seed * 1000 + i))
            node.core = RaftCore(cfg, node.rng)
            self.nodes[i] = node

    def crash(self, i: NodeId) -> None:
        """Stop node ``i``: everything not persisted is lost; messages to it are dropped."""
        self.nodes[i].core = None

    def restart(self, i: NodeId) -> None:
        """Rebuild node ``i`` from its storage (state machine from the snapshot)."""
        node = self.nodes[i]
        restored = node.storage.restored()
        node.core = RaftCore(node.config, node.rng, restored)
        snap = restored.snapshot
        node.commands = decode_commands(snap.data) if snap is not None else []
        self.process_ready(i)

    def take_events(self) -> list[str]:
        """Return and clear the events recorded so far."""
        out, self.events = self.events, []
        return out

    # ---------------------------------------------------------------- partitions

    def partition(self, groups: Iterable[Iterable[NodeId]]) -> None:
        """Only nodes in the same group can talk (unlisted nodes form their own group)."""
        self._group = {i: g for g, members in enumerate(groups) for i in members}

    def heal(self) -> None:
        """Remove every partition."""
        self._group = {}

    def can_talk(self, a: NodeId, b: NodeId) -> bool:
        """Whether a message from ``a`` to ``b`` would get through the partition."""
        if not self._group:
            return True
        return self._group.get(a, -a) == self._group.get(b, -b)

    # ---------------------------------------------------------------- driving

    def process_ready(self, i: NodeId) -> None:
        """Persist, then send, then apply every Ready node ``i`` has (no-op when crashed)."""
        node = self.nodes[i]
        core = node.core
        while core is not None and core.has_ready():
            rd = core.ready()
            node.storage.persist(rd)
            self.queue.extend(rd.messages)
            self._apply(node, rd)
            core.advance(rd)

    def process_all(self) -> None:
        """``process_ready`` for every node, in id order."""
        for i in sorted(self.nodes):
            self.process_ready(i)

    def tick(self, i: NodeId) -> None:
        """Tick node ``i`` once (if running) and process its Ready."""
        core = self.nodes[i].core
        if core is not None:
            core.tick()
            self.process_ready(i)

    def deliver(self, message: Message) -> bool:
        """Step one message into its recipient; False when dropped (crash or partition)."""
        node = self.nodes.get(message.to)
        if node is None or node.core is None or not self.can_talk(message.frm, message.to):
            return False
        node.core.step(message)
        return True

    def settle(self, max_rounds: int = 500) -> bool:
        """Process every Ready and deliver every queued message, round after round,
        until nothing is left to do (at most ``max_rounds``); return whether it got quiet."""
        for _ in range(max_rounds):
            self.process_all()
            if not self.queue:
                return True
            for m in self.take(lambda _: True):
                self.deliver(m)
        return False

    def take(self, keep: Callable[[Message], bool]) -> list[Message]:
        """Remove and return the queued messages matching ``keep`` (in queue order)."""
        taken = [m for m in self.queue if keep(m)]
        self.queue = [m for m in self.queue if not keep(m)]
        return taken

    def read_index(self, i: NodeId, context: bytes) -> None:
        """Ask node ``i`` for a read, noting what any correct answer must cover.

        A linearizable read must reflect every entry applied anywhere before it
        was asked; the monitor flags a ReadState with a lower index.

        Raises:
            NotLeader: node ``i`` knows no leader.
        """
        self._read_floor[context] = max(self._applied_at, default=0)
        self.nodes[i].live.read_index(context)
        self.process_ready(i)

    def leader(self) -> NodeId | None:
        """The running leader with the highest term, if any."""
        best: tuple[int, NodeId] | None = None
        for i, node in self.nodes.items():
            c = node.core
            if c is not None and c.role is Role.LEADER and (best is None or c.term > best[0]):
                best = (c.term, i)
        return best[1] if best else None

    # ---------------------------------------------------------------- safety monitors

    def _apply(self, node: Node, rd: Ready) -> None:
        i = node.config.id
        core = node.live
        if rd.soft_state is not None:
            ss = rd.soft_state
            self.events.append(f"{i} is {ss.role.value} at term {core.term}, leader {ss.leader_id}")
            if rd.soft_state.role is Role.LEADER:
                self._check_new_leader(i, core.term, node)
        if rd.snapshot is not None:
            node.commands = decode_commands(rd.snapshot.data)
            meta = rd.snapshot.meta
            self.events.append(f"{i} installed snapshot {meta.term}/{meta.index}")
        for e in rd.committed_entries:
            first = self._applied_at.setdefault(e.index, e)
            if first != e:
                self._violate(
                    f"State Machine Safety: {i} applied {describe_entry(e)} "
                    f"where another node applied {describe_entry(first)}"
                )
            if e.type is EntryType.NORMAL:
                node.commands.append((e.index, e.term, e.data))
        for rs in rd.read_states:
            node.reads.append((rs.context, rs.index))
            self.events.append(f"{i} read {rs.context.decode()} ok at index {rs.index}")
            floor = self._read_floor.pop(rs.context, 0)
            if rs.index < floor:
                self._violate(
                    f"Linearizable Reads: {i} read {rs.context.decode()} at index {rs.index} "
                    f"but index {floor} was applied before it was asked"
                )
        for ctx in rd.dropped_reads:
            node.dropped_reads.append(ctx)
            self.events.append(f"{i} read {ctx.decode()} dropped")

    def _check_new_leader(self, i: NodeId, term: int, node: Node) -> None:
        other = self._leaders.setdefault(term, i)
        if other != i:
            self._violate(f"Election Safety: {i} and {other} both lead term {term}")
        base = node.storage.snapshot.meta.index if node.storage.snapshot is not None else 0
        log = {e.index: e for e in node.storage.entries}
        for index, e in self._applied_at.items():
            if index > base and log.get(index) != e:
                self._violate(
                    f"Leader Completeness: leader {i} of term {term} lacks committed "
                    f"{describe_entry(e)}"
                )

    def _violate(self, what: str) -> None:
        self.violations.append(what)
        self.events.append(f"VIOLATION {what}")

    def check_log_matching(self) -> None:
        """Log Matching over durable logs: same index and term means same entry and prefix."""
        logs = {i: {e.index: e for e in n.storage.entries} for i, n in sorted(self.nodes.items())}
        ids = sorted(logs)
        for a_pos, a in enumerate(ids):
            for b in ids[a_pos + 1 :]:
                la, lb = logs[a], logs[b]
                common = sorted(set(la) & set(lb), reverse=True)
                matched = False
                for index in common:
                    if la[index].term == lb[index].term:
                        matched = True
                    if matched and la[index] != lb[index]:
                        self._violate(f"Log Matching: nodes {a} and {b} differ at index {index}")
                        break

    def committed_entries(self) -> dict[int, Entry]:
        """Every entry some node applied, by index (what must never be lost)."""
        return dict(self._applied_at)
