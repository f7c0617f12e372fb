"""Grudges: which directed links a network fault cuts (after Jepsen's nemesis grudges).

Rules: pure functions over node ids, no IO; randomness only from an injected
``random.Random``. A grudge says nothing about *how* a link is cut (that is
``proxy.faults``), only which directions are.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from proxy.errors import ProxyError
from proxy.topology import Link, node_name


class GrudgeError(ProxyError, ValueError):
    """The caller described groups or nodes that make no valid grudge."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Grudge:
    """A set of cut directed links. The empty grudge cuts nothing."""

    cuts: frozenset[Link] = frozenset()

    def __or__(self, other: Grudge) -> Grudge:
        return Grudge(cuts=self.cuts | other.cuts)

    def links(self) -> tuple[Link, ...]:
        """The cut links, sorted by (src, dst)."""
        return tuple(sorted(self.cuts))

    def hears(self, dst: int, src: int) -> bool:
        """Whether ``dst`` still receives what ``src`` sends."""
        return src == dst or Link(src=src, dst=dst) not in self.cuts

    def to_json(self) -> list[str]:
        """The cut links as sorted ``"n1->n2"`` strings (for histories and reports)."""
        return [str(link) for link in self.links()]


def _distinct(nodes: Iterable[int], what: str) -> tuple[int, ...]:
    out = tuple(nodes)
    if len(set(out)) != len(out):
        msg = f"{what}: node listed twice in {sorted(out)}"
        raise GrudgeError(msg)
    if any(n < 1 for n in out):
        msg = f"{what}: node ids start at 1, got {sorted(out)}"
        raise GrudgeError(msg)
    return out


def _middle(nodes: Iterable[int], what: str, least: int) -> tuple[tuple[int, ...], int]:
    order = _distinct(nodes, what)
    if len(order) < least:
        msg = f"{what} {list(order)}: need at least {least} nodes"
        raise GrudgeError(msg)
    return order, len(order) // 2


def partition(groups: Sequence[Iterable[int]]) -> Grudge:
    """Cut every link between nodes of different groups, both directions.

    Args:
        groups: disjoint, non-empty groups of node ids. Links inside a group stay.

    Returns:
        The grudge.

    Raises:
        GrudgeError: if a group is empty or a node is in two groups.
    """
    parts = [tuple(g) for g in groups]
    if any(not p for p in parts):
        msg = f"partition {parts}: every group needs at least one node"
        raise GrudgeError(msg)
    _distinct((n for p in parts for n in p), f"partition {parts}")
    cuts = {
        Link(src=a, dst=b)
        for i, left in enumerate(parts)
        for j, right in enumerate(parts)
        if i != j
        for a in left
        for b in right
    }
    return Grudge(cuts=frozenset(cuts))


def halves(nodes: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split ``nodes`` in order into a smaller first half and a larger (or equal) second.

    Args:
        nodes: two or more distinct node ids.

    Returns:
        ``(nodes[:n // 2], nodes[n // 2:])``.

    Raises:
        GrudgeError: with fewer than two nodes.
    """
    order, mid = _middle(nodes, "halves", 2)
    return order[:mid], order[mid:]


def bisect(nodes: Sequence[int]) -> Grudge:
    """Cut ``nodes`` (in the given order) into two halves, see ``halves``."""
    return partition(halves(nodes))


def isolate(node: int, nodes: Iterable[int]) -> Grudge:
    """Cut ``node`` from every other node of ``nodes``, both ways: 2·(N-1) links.

    Raises:
        GrudgeError: if ``node`` is not one of ``nodes`` or is the only one.
    """
    everyone = _distinct(nodes, "isolate")
    if node not in everyone:
        msg = f"isolate {node_name(node)}: not one of {sorted(everyone)}"
        raise GrudgeError(msg)
    rest = [n for n in everyone if n != node]
    if not rest:
        msg = f"isolate {node_name(node)}: there is no other node to cut it from"
        raise GrudgeError(msg)
    return partition([[node], rest])


def bridge(left: Iterable[int], right: Iterable[int], via: int) -> Grudge:
    """Cut ``left`` from ``right`` both ways while ``via`` still talks to everyone.

    Jepsen's bridge: two halves that share one node, so each half plus the bridge node can
    form a majority although the halves cannot hear each other.

    Args:
        left: one side (without ``via``).
        right: the other side (without ``via``).
        via: the bridge node, connected to both sides.

    Raises:
        GrudgeError: if a side is empty or the sides and the bridge overlap.
    """
    lhs, rhs = tuple(left), tuple(right)
    _distinct((*lhs, *rhs, via), f"bridge {list(lhs)} | {node_name(via)} | {list(rhs)}")
    return partition([lhs, rhs])


def bridge_of(nodes: Sequence[int]) -> Grudge:
    """Bridge ``nodes`` in order: the middle node joins the two halves around it.

    Raises:
        GrudgeError: with fewer than three nodes.
    """
    order, mid = _middle(nodes, "bridge_of", 3)
    return bridge(order[:mid], order[mid + 1 :], order[mid])


def one_way(src: int, dst: int) -> Grudge:
    """Cut only what ``src`` sends to ``dst``; ``dst`` still reaches ``src``."""
    return Grudge(cuts=frozenset({Link(src=src, dst=dst)}))


def _shuffled(nodes: Iterable[int], rng: random.Random, what: str) -> list[int]:
    order = sorted(_distinct(nodes, what))
    rng.shuffle(order)
    return order


def majority_minority(nodes: Iterable[int], rng: random.Random) -> Grudge:
    """Cut a random minority of ``(N-1)//2`` nodes from the majority of the rest.

    With 5 nodes: 3 | 2; with 4 nodes: 3 | 1.

    Args:
        nodes: at least three distinct node ids.
        rng: the only source of randomness (the same seed gives the same grudge).

    Raises:
        GrudgeError: with fewer than three nodes (there is no non-empty minority).
    """
    order = _shuffled(nodes, rng, "majority_minority")
    minority = (len(order) - 1) // 2
    if minority < 1:
        msg = f"majority_minority {sorted(order)}: need at least three nodes"
        raise GrudgeError(msg)
    return partition([order[:minority], order[minority:]])


def random_halves(nodes: Iterable[int], rng: random.Random) -> Grudge:
    """Shuffle ``nodes`` with ``rng`` and bisect them (sizes ``N//2`` and ``N - N//2``)."""
    return bisect(_shuffled(nodes, rng, "random_halves"))


def majorities_ring(nodes: Iterable[int], rng: random.Random) -> Grudge:
    """Every node hears a majority, but no two nodes hear the same majority.

    The nodes are placed on a ring in random order; each node hears itself and the
    ``N//2`` nodes nearest it on the ring (half before it, the rest after it) and
    nothing else. For even N the window is one-sided by one node, so some cuts are
    one-way.

    Raises:
        GrudgeError: with fewer than three nodes.
    """
    ring = _shuffled(nodes, rng, "majorities_ring")
    size = len(ring)
    if size < 3:
        msg = f"majorities_ring {sorted(ring)}: need at least three nodes"
        raise GrudgeError(msg)
    others = size // 2  # a majority is ``size // 2 + 1`` nodes, the receiver included
    before = others // 2
    cuts: set[Link] = set()
    for k, dst in enumerate(ring):
        heard = {ring[(k + off) % size] for off in range(-before, others - before + 1)}
        cuts.update(Link(src=src, dst=dst) for src in ring if src not in heard)
    return Grudge(cuts=frozenset(cuts))
