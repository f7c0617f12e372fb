"""Raft's safety claims (Figure 3 of the paper) under random faults, over many seeds.

Each seed runs a small cluster whose network drops, delays, duplicates and
reorders messages, partitions and crashes nodes (a crash keeps only what was
persisted), then heals everything and checks the cluster recovers within a
bounded number of ticks. Every failure message names its seed; reproduce with
``chaos_run(seed)``.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.raft import Config, EntryType, NotLeader, ProposalDropped, Role
from nodes.raft.testing import Network, encode_commands

SEEDS = range(500)
STEPS = 3000
RECOVERY_ROUNDS = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class ChaosResult:
    """What one seeded run saw."""

    seed: int
    violations: tuple[str, ...]
    recovered: bool
    lost: tuple[str, ...]
    """Committed entries missing from some node's state machine at the end."""
    leaders_elected: int


def _config(rng: random.Random) -> dict[str, object]:
    return {
        "election_tick": 10,
        "heartbeat_tick": rng.choice((1, 2)),
        "pre_vote": rng.random() < 0.7,
        "check_quorum": rng.random() < 0.7,
        "max_entries_per_msg": rng.choice((1, 3, 64)),
        "max_inflight_msgs": rng.choice((1, 4, 256)),
    }


def _live(env: Network) -> list[int]:
    return [i for i, n in sorted(env.nodes.items()) if n.core is not None]


def _propose(env: Network, data: bytes) -> None:
    leader = env.leader()
    if leader is None:
        return
    try:
        env.nodes[leader].live.propose(data)
    except (NotLeader, ProposalDropped):
        return
    env.process_ready(leader)


def _chaos_step(env: Network, rng: random.Random, k: int) -> None:
    r = rng.random()
    nodes = sorted(env.nodes)
    if r < 0.45:
        if env.queue:
            m = env.queue.pop(rng.randrange(len(env.queue)))  # any order: delay, reorder
            if rng.random() < 0.05:
                env.queue.append(m)  # duplicate
            if rng.random() < 0.1:
                return  # lost
            if env.deliver(m):
                env.process_ready(m.to)
    elif r < 0.75:
        env.tick(rng.choice(nodes))
    elif r < 0.85:
        _propose(env, b"v%d" % k)
    elif r < 0.87:
        cut = rng.sample(nodes, rng.randrange(1, len(nodes)))
        env.partition([cut, [i for i in nodes if i not in cut]])
    elif r < 0.89:
        env.heal()
    elif r < 0.905:
        live = _live(env)
        if live:
            env.crash(rng.choice(live))
    elif r < 0.93:
        crashed = [i for i in nodes if env.nodes[i].core is None]
        if crashed:
            env.restart(rng.choice(crashed))
    elif r < 0.95:
        _compact(env, rng.choice(nodes))
    else:
        _read(env, rng.choice(nodes), k)


def _compact(env: Network, i: int) -> None:
    node = env.nodes[i]
    core = node.core
    if core is None or core.applied_index < core.first_index:
        return
    index = core.applied_index
    snap = core.compact(index, encode_commands(c for c in node.commands if c[0] <= index))
    node.storage.compact(snap)


def _read(env: Network, i: int, k: int) -> None:
    if env.nodes[i].core is None:
        return
    try:
        env.read_index(i, b"%d-%d" % (i, k))
    except NotLeader:
        return


def _missing(env: Network) -> list[str]:
    """Committed commands some node has not applied (yet, or ever)."""
    lost = []
    for index, e in sorted(env.committed_entries().items()):
        if e.type is not EntryType.NORMAL:
            continue
        for i, n in sorted(env.nodes.items()):
            if (e.index, e.term, e.data) not in n.commands:
                lost.append(f"node {i} lacks committed entry {e.term}/{index}")
    return lost


def _recover(env: Network, seed: int) -> bool:
    """Heal, restart everyone, and wait (bounded) until a final write is applied everywhere
    and every node has applied every committed command (followers learn the last commit
    index from a heartbeat, so this takes ticks, not just deliveries)."""
    env.heal()
    for i in sorted(env.nodes):
        if env.nodes[i].core is None:
            env.restart(i)
    marker = b"final-%d" % seed
    for _ in range(RECOVERY_ROUNDS):
        for i in sorted(env.nodes):
            env.tick(i)
        env.settle(100)
        if all(
            any(d == marker for _, _, d in n.commands) for n in env.nodes.values()
        ) and not _missing(env):
            return True
        leader = env.leader()
        if leader is not None and not any(
            e.data == marker for e in env.committed_entries().values()
        ):
            _propose(env, marker)
    return False


@functools.cache
def chaos_run(seed: int, bug: str | None = None) -> ChaosResult:
    """Run one seeded chaos history and its recovery, checking the monitors as we go.

    Args:
        seed: drives every random choice.
        bug: the name of an ``unsafe_*`` Config flag to turn on (None: the real algorithm).
    """
    rng = random.Random(seed)
    count = rng.choice((3, 5))
    options = _config(rng)
    if bug is not None:
        options[bug] = True
    env = Network(seed)
    env.add_nodes(count, lambda i, voters: Config(id=i, voters=voters, **options))  # type: ignore[arg-type]
    leaders = 0
    for k in range(STEPS):
        _chaos_step(env, rng, k)
        leaders += sum(1 for e in env.take_events() if " is leader " in e)
    recovered = _recover(env, seed)
    env.check_log_matching()
    lost = _missing(env)
    return ChaosResult(
        seed=seed,
        violations=tuple(env.violations),
        recovered=recovered,
        lost=tuple(lost),
        leaders_elected=leaders,
    )


def _violations(kind: str) -> dict[int, list[str]]:
    bad = {}
    for seed in SEEDS:
        found = [v for v in chaos_run(seed).violations if v.startswith(kind)]
        if found:
            bad[seed] = found
    return bad


class TestRaftPaperClaims:
    def test_election_safety_at_most_one_leader_per_term(self) -> None:
        """Election Safety: at most one leader can be elected in a given term."""
        bad = _violations("Election Safety")

        assert {} == bad

    def test_log_matching_same_index_and_term_means_same_prefix(self) -> None:
        """Log Matching: logs sharing an entry's index and term are identical up to it."""
        bad = _violations("Log Matching")

        assert {} == bad

    def test_leader_completeness_leaders_hold_every_committed_entry(self) -> None:
        """Leader Completeness: a new leader's log holds every entry committed before."""
        bad = _violations("Leader Completeness")

        assert {} == bad

    def test_state_machine_safety_one_entry_per_index(self) -> None:
        """State Machine Safety: no two nodes apply different entries at the same index."""
        bad = _violations("State Machine Safety")

        assert {} == bad

    def test_reads_are_linearizable(self) -> None:
        """ReadIndex: a served read covers every entry applied anywhere before it was asked."""
        bad = _violations("Linearizable Reads")

        assert {} == bad

    def test_committed_entries_are_never_lost(self) -> None:
        """Every committed command ends up in every node's state machine (failing seeds listed)."""
        bad = {s: chaos_run(s).lost for s in SEEDS if chaos_run(s).lost}

        assert {} == bad

    def test_cluster_recovers_after_heal(self) -> None:
        """Liveness (loose, not timed): after healing, a write commits everywhere within
        a bounded number of ticks."""
        stuck = [s for s in SEEDS if not chaos_run(s).recovered]

        assert [] == stuck

    def test_runs_exercise_elections(self) -> None:
        """The chaos is not vacuous: across the seeds several leaders get elected."""
        elected = sum(chaos_run(s).leaders_elected for s in SEEDS)

        assert elected > len(SEEDS)


class TestMonitorsHaveTeeth:
    def test_seeded_stale_read_bug_is_caught(self) -> None:
        """With leader reads answered without a quorum, some seeds report stale reads."""
        caught = [
            s
            for s in range(150)
            if any(
                v.startswith("Linearizable Reads")
                for v in chaos_run(s, "unsafe_leader_read_without_quorum").violations
            )
        ]

        assert [] != caught


class TestRandomSeeds:
    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(seed=st.integers(min_value=1000, max_value=10**9))
    def test_every_claim_holds_for_any_seed(self, seed: int) -> None:
        """All safety claims and recovery hold for arbitrary seeds (hypothesis prints the seed)."""
        result = chaos_run(seed)

        assert (seed, (), (), True) == (seed, result.violations, result.lost, result.recovered)


def test_leader_helper_finds_highest_term() -> None:
    """``Network.leader`` reports a running leader (sanity check of the harness)."""
    env = Network(7)
    env.add_nodes(3, lambda i, voters: Config(id=i, voters=voters))
    env.nodes[1].live.campaign()
    env.settle(20)

    assert (1, Role.LEADER) == (env.leader(), env.nodes[1].live.role)
