"""proxy.grudge: which directed links each network fault cuts."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy import grudge
from proxy.grudge import Grudge, GrudgeError
from proxy.topology import Link

cluster = st.integers(min_value=2, max_value=9).map(lambda n: list(range(1, n + 1)))
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def groupings(draw: st.DrawFn) -> list[list[int]]:
    """A cluster split into 2..N non-empty groups (a random assignment, then shuffled)."""
    nodes = draw(cluster)
    k = draw(st.integers(min_value=2, max_value=len(nodes)))
    rng = random.Random(draw(seeds))
    order = nodes[:]
    rng.shuffle(order)
    # The first k nodes seed the k groups; the rest go anywhere.
    groups = [[n] for n in order[:k]]
    for n in order[k:]:
        groups[rng.randrange(k)].append(n)
    return groups


def _all_links(nodes: list[int]) -> set[Link]:
    return {Link(src=a, dst=b) for a in nodes for b in nodes if a != b}


class TestPartition:
    @settings(max_examples=80, deadline=None)
    @given(groups=groupings())
    def test_cuts_exactly_cross_group_links(self, groups: list[list[int]]) -> None:
        """A partition cuts every link between different groups, both ways, and no other."""
        where = {n: i for i, g in enumerate(groups) for n in g}
        nodes = sorted(where)

        made = grudge.partition(groups)

        expected = {link for link in _all_links(nodes) if where[link.src] != where[link.dst]}
        assert expected == set(made.cuts)

    @settings(max_examples=40, deadline=None)
    @given(groups=groupings())
    def test_is_symmetric(self, groups: list[list[int]]) -> None:
        """Every cut link's reverse is cut too."""
        made = grudge.partition(groups)

        assert set() == {link for link in made.cuts if link.reverse() not in made.cuts}

    @pytest.mark.parametrize("groups", [[[1, 2], []], [[1, 2], [2, 3]]])
    def test_rejects_empty_or_overlapping_groups(self, groups: list[list[int]]) -> None:
        """An empty group or a node in two groups is the caller's mistake."""
        with pytest.raises(GrudgeError, match="partition"):
            grudge.partition(groups)


class TestIsolate:
    @settings(max_examples=30, deadline=None)
    @given(nodes=cluster, data=st.data())
    def test_cuts_two_n_minus_one_links(self, nodes: list[int], data: st.DataObject) -> None:
        """Isolating one node of N cuts its 2(N-1) links and only those."""
        node = data.draw(st.sampled_from(nodes))

        made = grudge.isolate(node, nodes)

        expected = {link for link in _all_links(nodes) if node in (link.src, link.dst)}
        assert (2 * (len(nodes) - 1), expected) == (len(made.cuts), set(made.cuts))

    def test_rejects_stranger(self) -> None:
        """Isolating a node that is not in the cluster is refused."""
        with pytest.raises(GrudgeError, match="isolate n7"):
            grudge.isolate(7, [1, 2, 3])


class TestBridge:
    @settings(max_examples=40, deadline=None)
    @given(
        nodes=st.integers(min_value=3, max_value=9).map(lambda n: list(range(1, n + 1))), seed=seeds
    )
    def test_bridge_node_hears_and_is_heard_by_all(self, nodes: list[int], seed: int) -> None:
        """The bridge node keeps both directions to every node; the two sides are cut apart."""
        rng = random.Random(seed)
        order = nodes[:]
        rng.shuffle(order)
        via, rest = order[0], order[1:]
        cut_at = rng.randrange(1, len(rest))
        left, right = rest[:cut_at], rest[cut_at:]

        made = grudge.bridge(left, right, via)

        bridge_links = {link for link in _all_links(nodes) if via in (link.src, link.dst)}
        crossing = {Link(src=a, dst=b) for a in left for b in right}
        crossing |= {link.reverse() for link in crossing}
        assert (set(), crossing) == (bridge_links & made.cuts, set(made.cuts)), f"seed={seed}"

    def test_bridge_of_uses_middle_node(self) -> None:
        """bridge_of([1..5]) keeps n3 joined to {1, 2} and {4, 5}."""
        assert grudge.bridge(left=[1, 2], right=[4, 5], via=3) == grudge.bridge_of([1, 2, 3, 4, 5])

    def test_rejects_bridge_on_a_side(self) -> None:
        """The bridge node may not also sit on one side."""
        with pytest.raises(GrudgeError, match="bridge"):
            grudge.bridge([1, 2], [3, 4], 2)


class TestOneWay:
    def test_cuts_one_direction(self) -> None:
        """A one-way cut leaves the reverse direction alone."""
        made = grudge.one_way(2, 5)

        assert (False, True) == (made.hears(5, 2), made.hears(2, 5))


class TestRandomHalves:
    @settings(max_examples=40, deadline=None)
    @given(nodes=cluster, seed=seeds)
    def test_seeded_and_sized(self, nodes: list[int], seed: int) -> None:
        """The same seed gives the same halves, of sizes N//2 and N-N//2."""
        first = grudge.random_halves(nodes, random.Random(seed))
        again = grudge.random_halves(nodes, random.Random(seed))

        # A cut node hears nobody of its own side: count one side's size from node 1's view.
        deaf_to = {link.src for link in first.cuts if link.dst == nodes[0]}
        small = min(len(deaf_to), len(nodes) - len(deaf_to))
        assert (first, len(nodes) // 2) == (again, small), f"seed={seed}"

    def test_seeds_differ(self) -> None:
        """Across many seeds more than one split of 5 nodes occurs."""
        splits = {grudge.random_halves([1, 2, 3, 4, 5], random.Random(s)) for s in range(40)}

        assert len(splits) > 1


class TestMajorityMinority:
    @settings(max_examples=40, deadline=None)
    @given(
        nodes=st.integers(min_value=3, max_value=9).map(lambda n: list(range(1, n + 1))), seed=seeds
    )
    def test_minority_size(self, nodes: list[int], seed: int) -> None:
        """The minority has (N-1)//2 nodes and is cut from the rest both ways."""
        made = grudge.majority_minority(nodes, random.Random(seed))

        sides = {frozenset(n for n in nodes if made.hears(x, n)) for x in nodes}
        sizes = sorted(len(s) for s in sides)
        assert [(len(nodes) - 1) // 2, len(nodes) - (len(nodes) - 1) // 2] == sizes, f"seed={seed}"

    def test_needs_three(self) -> None:
        """Two nodes have no non-empty minority."""
        with pytest.raises(GrudgeError, match="three"):
            grudge.majority_minority([1, 2], random.Random(0))


class TestMajoritiesRing:
    @settings(max_examples=40, deadline=None)
    @given(
        nodes=st.integers(min_value=3, max_value=9).map(lambda n: list(range(1, n + 1))), seed=seeds
    )
    def test_each_hears_a_distinct_majority(self, nodes: list[int], seed: int) -> None:
        """Every node hears exactly a majority (itself included), no two the same one."""
        made = grudge.majorities_ring(nodes, random.Random(seed))

        heard = [frozenset(s for s in nodes if made.hears(d, s)) for d in nodes]
        majority = len(nodes) // 2 + 1
        assert ({majority}, len(nodes)) == ({len(h) for h in heard}, len(set(heard))), (
            f"seed={seed}"
        )


class TestGrudge:
    def test_union_and_json(self) -> None:
        """Grudges combine by union and print their links sorted."""
        made = grudge.one_way(3, 1) | grudge.one_way(1, 2)

        assert ["n1->n2", "n3->n1"] == made.to_json()

    def test_empty_hears_everyone(self) -> None:
        """The empty grudge cuts nothing."""
        assert Grudge().hears(1, 2)
