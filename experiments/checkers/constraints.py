"""Orders that must exist: "a before b" constraints, each with its reason, and their cycles.

Rules: plain data, no IO. A set of constraints can be met by some total order
exactly when it has no cycle; a cycle, with the reason of each edge, is the
explanation of a violation. Cycles are found with the standard library's
``graphlib`` (iterative, so deep graphs are fine).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from itertools import pairwise
from typing import Any

__all__ = ["Constraints", "Reason", "Step"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """Why one thing must come before another.

    Attributes:
        rule: the rule that demands it (e.g. ``monotonic-reads``).
        text: the demand in words, naming the operations.
        ops: the history indexes of the operations behind it.
    """

    rule: str
    text: str
    ops: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The reason as a JSON-ready object."""
        return {"rule": self.rule, "text": self.text, "ops": list(self.ops)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One edge of a cycle: ``before`` must come before ``after`` because of ``reason``."""

    before: Hashable
    after: Hashable
    reason: Reason


class Constraints:
    """A directed graph of "must come before" edges; the first reason of an edge is kept."""

    def __init__(self) -> None:
        self._edges: dict[Hashable, dict[Hashable, Reason]] = {}

    def __len__(self) -> int:
        """How many distinct edges."""
        return sum(len(after) for after in self._edges.values())

    def node(self, node: Hashable) -> None:
        """Make sure ``node`` takes part in ``order`` even with no edge."""
        self._edges.setdefault(node, {})

    def has(self, before: Hashable, after: Hashable) -> bool:
        """Whether the edge is there already."""
        return after in self._edges.get(before, ())

    def add(self, before: Hashable, after: Hashable, reason: Reason) -> None:
        """Demand that ``before`` comes before ``after`` (a self-edge is a cycle)."""
        self._edges.setdefault(before, {}).setdefault(after, reason)

    def merge(self, other: Constraints) -> None:
        """Add every edge of ``other`` (keeping reasons already here)."""
        for before, afters in other._edges.items():
            mine = self._edges.setdefault(before, {})
            for after, reason in afters.items():
                mine.setdefault(after, reason)

    def path(self, start: Hashable, goal: Hashable, rules: frozenset[str]) -> list[Step]:
        """A shortest path of edges whose reasons have one of ``rules`` (empty if none)."""
        came: dict[Hashable, Step | None] = {start: None}
        frontier = deque([start])
        while frontier and goal not in came:
            node = frontier.popleft()
            for after, reason in self._edges.get(node, {}).items():
                if after not in came and reason.rule in rules:
                    came[after] = Step(before=node, after=after, reason=reason)
                    frontier.append(after)
        steps: list[Step] = []
        step = came.get(goal)
        while step is not None:
            steps.append(step)
            step = came[step.before]
        return steps[::-1]

    def cycle(self) -> list[Step] | None:
        """A cycle of edges if there is one (then no order meets them), else None."""
        return self.order()[1]

    def order(self) -> tuple[list[Hashable], None] | tuple[None, list[Step]]:
        """An order of the nodes that meets every edge, or else a cycle of edges.

        Kahn's algorithm finds the order; only when there is none does
        ``graphlib`` look for a cycle among the nodes left over.
        """
        waiting: dict[Hashable, int] = dict.fromkeys(self._edges, 0)
        for afters in self._edges.values():
            for after in afters:
                waiting[after] = waiting.get(after, 0) + 1
        ready = [node for node, count in waiting.items() if count == 0]
        order: list[Hashable] = []
        while ready:
            node = ready.pop()
            order.append(node)
            for after in self._edges.get(node, ()):
                waiting[after] -= 1
                if waiting[after] == 0:
                    ready.append(after)
        if len(order) == len(waiting):
            return order, None
        done = set(order)
        return None, self._cycle_among({node for node in waiting if node not in done})

    def _cycle_among(self, nodes: set[Hashable]) -> list[Step]:
        """A cycle within ``nodes``, which hold one (every node left over by Kahn's order)."""
        for node in nodes:  # graphlib does not report self-loops
            if node in self._edges.get(node, {}):
                return [Step(before=node, after=node, reason=self._edges[node][node])]
        sorter: TopologicalSorter[Hashable] = TopologicalSorter()
        for before in nodes:
            for after in self._edges.get(before, {}):
                if after in nodes:
                    sorter.add(after, before)
        try:
            sorter.prepare()
        except CycleError as exc:
            found = list(exc.args[1])
            return [Step(before=a, after=b, reason=self._edges[a][b]) for a, b in pairwise(found)]
        msg = "the nodes Kahn's algorithm left over hold no cycle"  # pragma: no cover
        raise AssertionError(msg)  # pragma: no cover
