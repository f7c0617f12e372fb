"""Resolve a fault window into what it hits, from the cluster's state when it starts.

Rules: pure functions, no IO; randomness only from the injected ``random.Random``. Which
node is the leader is only known when a fault starts, so targets are chosen then, from the
status the runner just read; the result (``ResolvedFault``) is plain data every backend can
apply. Sides are the groups of nodes that still hear each other both ways; the one holding
a majority comes first.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from experiments.backends.base import NodeId, NodeState, ResolvedFault, agreed_leader
from experiments.schedule import FaultSpec, NemesisKind
from proxy import grudge as grudges
from proxy.grudge import Grudge


def _names(nodes: Sequence[NodeId]) -> str:
    return ",".join(f"n{n}" for n in nodes)


def sides_of(grudge: Grudge, nodes: Sequence[NodeId]) -> tuple[tuple[NodeId, ...], ...]:
    """The groups of nodes connected by links uncut both ways, the largest first."""
    unseen = set(nodes)
    groups: list[tuple[NodeId, ...]] = []
    while unseen:
        start = min(unseen)
        group = {start}
        frontier = [start]
        while frontier:
            node = frontier.pop()
            for other in nodes:
                if (
                    other not in group
                    and grudge.hears(other, node)
                    and grudge.hears(node, other)
                ):
                    group.add(other)
                    frontier.append(other)
        unseen -= group
        groups.append(tuple(sorted(group)))
    groups.sort(key=lambda g: (-len(g), g))
    return tuple(groups)


def cut_off(sides: Sequence[Sequence[NodeId]], size: int) -> tuple[NodeId, ...]:
    """The nodes outside the side that holds a majority (all of them when none does)."""
    majority = [s for s in sides if len(s) > size // 2]
    keep = set(majority[0]) if majority else set()
    return tuple(sorted(n for side in sides for n in side if n not in keep))


def _leader(states: Sequence[NodeState], size: int) -> NodeId | None:
    agreed = agreed_leader(tuple(states), size)
    if agreed is not None:
        return agreed.id
    claimed = [s for s in states if s.role == "leader" and s.term is not None]
    return max(claimed, key=lambda s: s.term or 0).id if claimed else None


def _victim(
    target: str, states: Sequence[NodeState], nodes: Sequence[NodeId], rng: random.Random,
    busy: frozenset[NodeId] = frozenset(),
) -> tuple[NodeId, str]:
    """The node a kill or pause hits, and why (for the description). A random choice avoids
    ``busy`` nodes (still being restarted or thawed by an earlier fault) while others are
    left: hitting a node mid-restart would break that fault's undo, not test the store."""
    leader = _leader(states, len(nodes))
    free = tuple(n for n in nodes if n not in busy) or tuple(nodes)
    if target.startswith("n"):
        return int(target[1:]), "named"
    if target == "leader":
        if leader is not None:
            return leader, "the leader"
        return rng.choice(free), "no leader known: a random node"
    if target == "follower":
        followers = [n for n in free if n != leader] or [n for n in nodes if n != leader]
        return rng.choice(followers), "a follower"
    if target == "any" and leader is not None and rng.random() < 0.5:
        return leader, "the leader"
    return rng.choice(free), "a random node"


def _partition(
    spec: FaultSpec, states: Sequence[NodeState], nodes: Sequence[NodeId], rng: random.Random
) -> tuple[Grudge, str]:
    kind = spec.kind
    if kind is NemesisKind.PARTITION:
        groups = [list(g) for g in spec.groups]
        rest = [n for n in nodes if all(n not in g for g in groups)]
        if rest:
            groups.append(rest)
        grudge = grudges.partition(groups)
        return grudge, "partition " + " | ".join(_names(g) for g in groups)
    if kind is NemesisKind.PARTITION_MAJORITY:
        grudge = grudges.majority_minority(nodes, rng)
        return grudge, "cut a minority " + " | ".join(_names(s) for s in sides_of(grudge, nodes))
    if kind is NemesisKind.PARTITION_HALVES:
        grudge = grudges.random_halves(nodes, rng)
        return grudge, "random halves " + " | ".join(_names(s) for s in sides_of(grudge, nodes))
    if kind is NemesisKind.PARTITION_BRIDGE:
        shuffled = list(nodes)
        rng.shuffle(shuffled)
        grudge = grudges.bridge_of(shuffled)
        via = shuffled[len(shuffled) // 2]
        return grudge, f"bridge: two halves that hear only n{via}"
    leader = _leader(states, len(nodes))
    known = leader is not None
    chosen = leader if leader is not None else rng.choice(tuple(nodes))
    who = f"the leader n{chosen}" if known else f"n{chosen} (no leader known)"
    if kind is NemesisKind.PARTITION_LEADER:
        others = [n for n in nodes if n != chosen]
        return grudges.isolate(chosen, nodes), f"isolate {who} from {_names(others)}"
    # PARTITION_ONE_WAY: the leader still sends, but hears nobody.
    cut = Grudge()
    for other in nodes:
        if other != chosen:
            cut = cut | grudges.one_way(other, chosen)
    return cut, f"one-way: {who} sends but hears nobody"


def _in_node_text(spec: FaultSpec) -> str:
    """What an in-node fault does, in words."""
    kind = spec.kind
    if kind is NemesisKind.CLOCK_SKEW:
        return f"clock at {spec.clock_rate:g}x speed"
    if kind is NemesisKind.CLOCK_JUMP:
        return f"clock stepped {spec.clock_jump_ms:+g} ms"
    if kind is NemesisKind.DISK_SLOW:
        return f"disk {spec.disk_delay_ms:g} ms slower"
    return "disk full (ENOSPC)" if kind is NemesisKind.DISK_FULL else "disk errors (EIO)"


def resolve(
    fault_id: int,
    spec: FaultSpec,
    states: Sequence[NodeState],
    nodes: Sequence[NodeId],
    rng: random.Random,
    busy: frozenset[NodeId] = frozenset(),
) -> ResolvedFault:
    """Choose what ``spec`` hits now.

    Args:
        fault_id: the window's index in the schedule.
        spec: the fault.
        states: every node's state, read just now.
        nodes: the cluster's node ids.
        rng: the only source of randomness.
        busy: nodes an earlier fault is still restarting or thawing.
    """
    kind = spec.kind
    seed = rng.randrange(2**31)
    if kind.simulator_only:
        return ResolvedFault(id=fault_id, spec=spec, description=kind.value, seed=seed)
    if kind.is_partition:
        grudge, text = _partition(spec, states, nodes, rng)
        sides = sides_of(grudge, nodes)
        return ResolvedFault(
            id=fault_id,
            spec=spec,
            grudge=grudge,
            targets=cut_off(sides, len(nodes)),
            sides=sides,
            description=text,
            seed=seed,
        )
    if kind in (NemesisKind.KILL, NemesisKind.PAUSE) or kind.stops_node:
        victim, why = _victim(spec.target, states, nodes, rng, busy)
        rest = tuple(n for n in nodes if n != victim)
        return ResolvedFault(
            id=fault_id,
            spec=spec,
            targets=(victim,),
            sides=(rest, (victim,)),
            description=f"{kind.value} n{victim} ({why})",
            seed=seed,
        )
    if kind.in_node:
        if spec.target == "all":
            victims, why = tuple(nodes), "every node"
        else:
            victim, why = _victim(spec.target, states, nodes, rng, busy)
            victims = (victim,)
        return ResolvedFault(
            id=fault_id,
            spec=spec,
            targets=victims,
            description=f"{_in_node_text(spec)} on {_names(victims)} ({why})",
            seed=seed,
        )
    if kind is NemesisKind.LATENCY:
        text = f"latency {spec.latency_ms:g}±{spec.jitter_ms:g} ms on every peer link"
    elif kind is NemesisKind.LOSS:
        text = f"message loss p={spec.loss:g} on every peer link"
    else:
        text = f"bandwidth {spec.rate_kbps} KB/s on every peer link"
    return ResolvedFault(
        id=fault_id, spec=spec, targets=tuple(nodes), description=text, seed=seed
    )
