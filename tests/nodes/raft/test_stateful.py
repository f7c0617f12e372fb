"""A stateful property test of the core: any interleaving of its inputs, on any node.

Hypothesis drives a 3- or 5-node in-memory cluster with tick, step (any queued
message, in any order, with loss and duplication), propose, read_index,
transfer_leader, campaign, compact, crash and restart, and with ``ready`` and
``advance`` as steps of their own: inputs land between a node's ``ready`` and
its ``advance``, and pile up before a ``ready``, as they do on the real server
(the other harnesses handle a Ready after every input, which hid a ``KeyError``).
After every step it checks the Raft paper's claims (Figure 3): Election Safety,
Log Matching, Leader Completeness, State Machine Safety, plus linearizable
ReadIndex answers; any exception out of the core fails the run. At the end the
cluster is healed and must elect a leader, go quiet and commit a last write
everywhere (a livelock fails it). Hypothesis prints the shrunk steps of a failure.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from nodes.raft import (
    Config,
    Entry,
    EntryType,
    Message,
    NotLeader,
    ProposalDropped,
    RaftCore,
    Ready,
    Role,
)
from nodes.raft.testing import MemoryStorage, decode_commands, encode_commands

NODE = st.integers(min_value=0, max_value=4)
"""A node, by position (taken modulo the cluster size)."""
PICK = st.integers(min_value=0, max_value=1 << 16)
"""A queued message, by position (taken modulo the queue length)."""
RECOVERY_TICKS = 150
MAX_EXAMPLES = int(os.environ.get("CHAOSLAB_STATEFUL_EXAMPLES", "400"))
"""About 10 s here; a long hunt: ``CHAOSLAB_STATEFUL_EXAMPLES=20000 pytest this file``."""
STEPS = 100


@dataclass(slots=True)
class _Node:
    """One member: its durable storage, its core (None while crashed), its state machine."""

    config: Config
    seed: int
    storage: MemoryStorage = field(default_factory=MemoryStorage)
    core: RaftCore | None = None
    commands: list[tuple[int, int, bytes]] = field(default_factory=list)
    unadvanced: Ready | None = None
    """A Ready handed out and handled, not yet acknowledged with ``advance``."""
    boots: int = 0

    def live_core(self) -> RaftCore:
        """The running core (the node must be up)."""
        assert self.core is not None, f"n{self.config.id} is crashed"
        return self.core

    def boot(self) -> RaftCore:
        self.boots += 1
        restored = self.storage.restored()
        self.core = RaftCore(self.config, random.Random(self.seed * 100 + self.boots), restored)
        snap = restored.snapshot
        self.commands = decode_commands(snap.data) if snap is not None else []
        self.unadvanced = None
        return self.core


class CoreInterleavings(RuleBasedStateMachine):
    """Random programs over a small cluster of bare cores."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[int, _Node] = {}
        self.queue: list[Message] = []
        self.leaders: dict[int, int] = {}
        """term -> the node seen leading it."""
        self.committed: dict[int, Entry] = {}
        """index -> the entry some node applied there."""
        self.read_floor: dict[bytes, int] = {}
        self.counter = 0

    # ---- setup ----------------------------------------------------------------

    @initialize(
        size=st.sampled_from((3, 5)),
        pre_vote=st.booleans(),
        check_quorum=st.booleans(),
        inflight=st.sampled_from((1, 2, 256)),
        seed=st.integers(min_value=0, max_value=1 << 16),
        elect=st.booleans(),
    )
    def make_cluster(
        self, size: int, pre_vote: bool, check_quorum: bool, inflight: int, seed: int, elect: bool
    ) -> None:
        """A fresh cluster, most often with node 1 already elected (so programs start busy)."""
        voters = tuple(range(1, size + 1))
        for i in voters:
            config = Config(
                id=i,
                voters=voters,
                election_tick=4,
                heartbeat_tick=1,
                pre_vote=pre_vote,
                check_quorum=check_quorum,
                max_entries_per_msg=2,
                max_inflight_msgs=inflight,
            )
            node = _Node(config=config, seed=seed * 10 + i)
            node.boot()
            self.nodes[i] = node
        if elect:
            self.nodes[1].live_core().campaign()
            assert self._settle(), "the first election never went quiet"

    def _node(self, n: int) -> _Node:
        ids = sorted(self.nodes)
        return self.nodes[ids[n % len(ids)]]

    def _leader_or(self, n: int) -> _Node:
        """The live leader of the highest term when there is one, else node ``n``."""
        leaders = [(c.term, i) for i, c in self._live() if c.role is Role.LEADER]
        return self.nodes[max(leaders)[1]] if leaders else self._node(n)

    # ---- inputs ---------------------------------------------------------------

    @rule(n=NODE)
    def tick(self, n: int) -> None:
        core = self._node(n).core
        if core is not None:
            core.tick()

    @precondition(lambda self: bool(self.queue))
    @rule(pick=PICK, fate=st.sampled_from(("deliver", "deliver", "duplicate", "lose")))
    def deliver(self, pick: int, fate: str) -> None:
        """Deliver any queued message (reordering), or deliver it and keep a copy, or lose it."""
        m = self.queue.pop(pick % len(self.queue))
        if fate == "lose":
            return
        if fate == "duplicate":
            self.queue.append(m)
        core = self.nodes[m.to].core
        if core is not None:
            core.step(m)

    @rule(n=NODE, to_leader=st.booleans(), count=st.integers(min_value=1, max_value=3))
    def propose(self, n: int, to_leader: bool, count: int) -> None:
        core = (self._leader_or(n) if to_leader else self._node(n)).core
        if core is None:
            return
        for _ in range(count):
            self.counter += 1
            try:
                core.propose(b"v%d" % self.counter)
            except (NotLeader, ProposalDropped):
                return

    @rule(n=NODE, to_leader=st.booleans())
    def read_index(self, n: int, to_leader: bool) -> None:
        core = (self._leader_or(n) if to_leader else self._node(n)).core
        if core is None:
            return
        self.counter += 1
        context = b"r%d" % self.counter
        floor = max(self.committed, default=0)
        try:
            core.read_index(context)
        except NotLeader:
            return
        self.read_floor[context] = floor

    @rule(n=NODE, to=NODE)
    def transfer_leader(self, n: int, to: int) -> None:
        core = self._node(n).core
        if core is None:
            return
        try:
            core.transfer_leader(self._node(to).config.id)
        except NotLeader:
            return

    @rule(n=NODE)
    def campaign(self, n: int) -> None:
        core = self._node(n).core
        if core is not None:
            core.campaign()

    @rule(n=NODE)
    def compact(self, n: int) -> None:
        node = self._node(n)
        core = node.core
        if core is None or core.applied_index < core.first_index:
            return
        index = core.applied_index
        data = encode_commands(c for c in node.commands if c[0] <= index)
        node.storage.compact(core.compact(index, data))

    @rule(rounds=st.integers(min_value=1, max_value=4))
    def run_normally(self, rounds: int) -> None:
        """A few rounds of ordinary operation: every Ready handled, every message delivered."""
        for _ in range(rounds):
            for node in self.nodes.values():
                if node.core is not None and node.unadvanced is None:
                    self._drain(node)
            queue, self.queue = self.queue, []
            for m in queue:
                core = self.nodes[m.to].core
                if core is not None:
                    core.step(m)

    @rule(n=NODE)
    def crash_or_restart(self, n: int) -> None:
        """Restart a crashed node, or crash a live one while a majority stays up."""
        node = self._node(n)
        if node.core is None:
            node.boot()
        elif self._crashed() < len(self.nodes) // 2:
            node.core = None
            node.unadvanced = None

    # ---- the Ready contract, one half at a time --------------------------------

    @rule(n=NODE)
    def ready(self, n: int) -> None:
        node = self._node(n)
        core = node.core
        if core is None or node.unadvanced is not None or not core.has_ready():
            return
        rd = core.ready()
        node.storage.persist(rd)
        self.queue.extend(rd.messages)
        self._apply(node, rd)
        node.unadvanced = rd

    @rule(n=NODE)
    def advance(self, n: int) -> None:
        node = self._node(n)
        if node.core is not None and node.unadvanced is not None:
            node.core.advance(node.unadvanced)
            node.unadvanced = None

    def _apply(self, node: _Node, rd: Ready) -> None:
        i = node.config.id
        if rd.snapshot is not None:
            node.commands = decode_commands(rd.snapshot.data)
        for e in rd.committed_entries:
            first = self.committed.setdefault(e.index, e)
            assert first == e, (
                f"State Machine Safety: n{i} applied {e} where another applied {first}"
            )
            if e.type is EntryType.NORMAL:
                node.commands.append((e.index, e.term, e.data))
        for rs in rd.read_states:
            floor = self.read_floor.pop(rs.context, 0)
            assert rs.index >= floor, (
                f"Linearizable Reads: n{i} read {rs.context!r} at {rs.index}, below {floor}"
            )

    # ---- the paper's claims ---------------------------------------------------

    def _crashed(self) -> int:
        return sum(1 for n in self.nodes.values() if n.core is None)

    def _live(self) -> list[tuple[int, RaftCore]]:
        return [(i, n.core) for i, n in sorted(self.nodes.items()) if n.core is not None]

    @invariant()
    def election_safety_and_leader_completeness(self) -> None:
        """At most one leader per term; a new leader holds every entry applied anywhere."""
        for i, core in self._live():
            if core.role is not Role.LEADER:
                continue
            first = self.leaders.setdefault(core.term, i)
            assert first == i, f"Election Safety: n{first} and n{i} both led term {core.term}"
            for index, e in self.committed.items():
                if index >= core.first_index:
                    assert e.term == core.term_at(index), (
                        f"Leader Completeness: n{i} (term {core.term}) lacks committed "
                        f"{e.term}/{index}"
                    )

    @invariant()
    def log_matching(self) -> None:
        """Two logs with an entry of the same index and term agree on every entry before it."""
        live = self._live()
        for pos, (a, ca) in enumerate(live):
            for b, cb in live[pos + 1 :]:
                lo = max(ca.first_index, cb.first_index)
                hi = min(ca.last_index, cb.last_index)
                matched = False
                for index in range(hi, lo - 1, -1):
                    same = ca.term_at(index) == cb.term_at(index)
                    matched = matched or same
                    assert same or not matched, (
                        f"Log Matching: n{a} and n{b} share an entry after index {index} "
                        f"but differ at it"
                    )

    def teardown(self) -> None:
        """Heal: restart everyone, run every Ready; a leader must emerge and commit everywhere."""
        if not self.nodes:
            return
        for node in self.nodes.values():
            if node.core is None:
                node.boot()
            elif node.unadvanced is not None:
                node.core.advance(node.unadvanced)
                node.unadvanced = None
        marker = b"final"
        proposed = False
        for _ in range(RECOVERY_TICKS):
            for node in self.nodes.values():
                assert node.core is not None
                node.core.tick()
            assert self._settle(), "the cluster never went quiet: a livelock"
            if all(any(d == marker for *_, d in n.commands) for n in self.nodes.values()):
                return
            leader = next((c for _, c in self._live() if c.role is Role.LEADER), None)
            if leader is not None and not proposed:
                try:
                    leader.propose(marker)
                    proposed = True
                except ProposalDropped:
                    pass
        raise AssertionError("after healing, no write committed on every node")

    def _drain(self, node: _Node) -> None:
        """Handle every Ready the node has, each in one go."""
        core = node.core
        assert core is not None
        while core.has_ready():
            rd = core.ready()
            node.storage.persist(rd)
            self.queue.extend(rd.messages)
            self._apply(node, rd)
            core.advance(rd)

    def _settle(self) -> bool:
        for _ in range(300):
            for node in self.nodes.values():
                self._drain(node)
            if not self.queue:
                return True
            queue, self.queue = self.queue, []
            for m in queue:
                core = self.nodes[m.to].core
                assert core is not None
                core.step(m)
        return False


CoreInterleavings.TestCase.settings = settings(
    max_examples=MAX_EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCoreInterleavings = CoreInterleavings.TestCase
