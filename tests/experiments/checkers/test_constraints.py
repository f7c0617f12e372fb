"""Constraints: an order that meets every edge, or a cycle with the reason of each edge."""

from __future__ import annotations

import random

from hypothesis import given, note, settings
from hypothesis import strategies as st

from experiments.checkers.constraints import Constraints, Reason


def reason(text: str) -> Reason:
    """A reason naming one edge."""
    return Reason(rule="test", text=text)


class TestConstraints:
    def test_acyclic_edges_give_an_order(self) -> None:
        """Edges without a cycle give an order that puts every "before" first."""
        graph = Constraints()
        for a, b in [(1, 2), (2, 3), (1, 3), (4, 3)]:
            graph.add(a, b, reason(f"{a}<{b}"))

        order, cycle = graph.order()

        assert cycle is None and order is not None
        assert all(order.index(a) < order.index(b) for a, b in [(1, 2), (2, 3), (1, 3), (4, 3)])

    def test_cycle_behind_a_tail_is_found_with_reasons(self) -> None:
        """A cycle reached only through other nodes is reported edge by edge, reasons kept."""
        graph = Constraints()
        for a, b in [(0, 1), (1, 2), (2, 3), (3, 1), (3, 4)]:
            graph.add(a, b, reason(f"{a}<{b}"))

        cycle = graph.cycle()

        assert cycle is not None
        assert {"1<2", "2<3", "3<1"} == {step.reason.text for step in cycle}
        assert all(step.after == nxt.before for step, nxt in zip(cycle, cycle[1:] + cycle[:1],
                                                                 strict=True))

    def test_self_loop_is_a_cycle(self) -> None:
        """"a before a" cannot be met."""
        graph = Constraints()
        graph.add("a", "a", reason("a<a"))

        assert ["a<a"] == [step.reason.text for step in graph.cycle() or []]

    def test_first_reason_is_kept(self) -> None:
        """Adding an edge twice keeps the first reason and counts the edge once."""
        graph = Constraints()
        graph.add(1, 2, reason("first"))
        graph.add(1, 2, reason("second"))

        assert (1, True) == (len(graph), graph.has(1, 2))
        assert ["first"] == [s.reason.text for s in graph.path(1, 2, frozenset({"test"}))]

    @settings(max_examples=200, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def test_cycle_exactly_when_no_order(self, seed: int) -> None:
        """On random graphs a cycle is reported iff a depth-first search finds a back edge."""
        rng = random.Random(seed)
        nodes = rng.randint(1, 8)
        edges = {(rng.randrange(nodes), rng.randrange(nodes)) for _ in range(rng.randint(0, 12))}
        note(f"seed {seed}: {sorted(edges)}")
        graph = Constraints()
        for a, b in edges:
            graph.add(a, b, reason(f"{a}<{b}"))

        cycle = graph.cycle()

        assert _has_cycle(edges, nodes) == (cycle is not None)
        if cycle is not None:
            assert all((s.before, s.after) in edges for s in cycle)


def _has_cycle(edges: set[tuple[int, int]], nodes: int) -> bool:
    state = [0] * nodes

    def visit(node: int) -> bool:
        state[node] = 1
        for a, b in edges:
            if a == node and (state[b] == 1 or (state[b] == 0 and visit(b))):
                return True
        state[node] = 2
        return False

    return any(state[n] == 0 and visit(n) for n in range(nodes))
