"""Resolving fault windows: targets from the cluster's state, sides of a partition."""

from __future__ import annotations

import random

import pytest

from experiments.backends.base import NodeState
from experiments.runner.faults import cut_off, resolve, sides_of
from experiments.schedule import FaultSpec, NemesisKind
from proxy import grudge as grudges

NODES = (1, 2, 3, 4, 5)


def states(leader: int | None, term: int = 3) -> list[NodeState]:
    return [
        NodeState(id=n, role="leader" if n == leader else "follower", term=term, leader=leader)
        for n in NODES
    ]


def spec(kind: NemesisKind, **fields: object) -> FaultSpec:
    return FaultSpec(kind=kind, at_s=1.0, duration_s=2.0, **fields)  # type: ignore[arg-type]


class TestSides:
    """Sides are the groups that hear each other both ways, the largest first."""

    def test_isolated_node_is_its_own_side(self) -> None:
        """Isolating n3 leaves n3 alone and the rest together."""
        sides = sides_of(grudges.isolate(3, NODES), NODES)

        assert ((1, 2, 4, 5), (3,)) == sides
        assert (3,) == cut_off(sides, 5)

    def test_bridge_cuts_no_one_off(self) -> None:
        """Both halves reach the bridge, so every node is on one side."""
        sides = sides_of(grudges.bridge_of([1, 2, 3, 4, 5]), NODES)

        assert ((1, 2, 3, 4, 5),) == sides
        assert () == cut_off(sides, 5)

    def test_one_way_deafness_isolates(self) -> None:
        """A node that hears nobody is cut off, though it still sends."""
        cut = grudges.one_way(1, 3) | grudges.one_way(2, 3) | grudges.one_way(4, 3) \
            | grudges.one_way(5, 3)

        assert ((1, 2, 4, 5), (3,)) == sides_of(cut, NODES)

    def test_even_split_has_no_majority(self) -> None:
        """Two halves of 2 and 2 (of 4): everyone is cut off from a majority."""
        sides = sides_of(grudges.partition([[1, 2], [3, 4]]), (1, 2, 3, 4))

        assert (1, 2, 3, 4) == cut_off(sides, 4)


class TestResolve:
    """Targets are chosen when the fault starts, from the status just read."""

    def test_partition_leader_isolates_the_agreed_leader(self) -> None:
        """The leader a majority agrees on is the one cut off."""
        fault = resolve(0, spec(NemesisKind.PARTITION_LEADER), states(4), NODES,
                        random.Random(1))

        assert ((4,), "isolate the leader n4 from n1,n2,n3,n5") == (
            fault.targets, fault.description)

    def test_kill_leader_without_a_leader_picks_a_random_node_and_says_so(self) -> None:
        """No leader known: a random victim, described as such."""
        fault = resolve(0, spec(NemesisKind.KILL, target="leader"), states(None), NODES,
                        random.Random(1))

        assert "no leader known" in fault.description
        assert 1 == len(fault.targets)

    def test_kill_named_node(self) -> None:
        """target: n2 hits n2."""
        fault = resolve(0, spec(NemesisKind.KILL, target="n2"), states(1), NODES,
                        random.Random(1))

        assert ((2,), ((1, 3, 4, 5), (2,))) == (fault.targets, fault.sides)

    def test_explicit_groups_with_the_rest_as_one_more(self) -> None:
        """groups [[1, 2]] of 5 is 1,2 | 3,4,5."""
        fault = resolve(0, spec(NemesisKind.PARTITION, groups=((1, 2),)), states(1), NODES,
                        random.Random(1))

        assert ((3, 4, 5), (1, 2)) == fault.sides
        assert "partition n1,n2 | n3,n4,n5" == fault.description

    def test_value_names_what_was_cut(self) -> None:
        """The nemesis value lists targets, sides and cut links with node names."""
        value = resolve(2, spec(NemesisKind.PARTITION_LEADER), states(1), NODES,
                        random.Random(1)).value()

        assert (2, ["n1"], [["n2", "n3", "n4", "n5"], ["n1"]], "drop") == (
            value["id"], value["targets"], value["sides"], value["mode"])
        assert "n1->n2" in value["cut"]

    @pytest.mark.parametrize("seed", range(20))
    def test_same_seed_same_resolution(self, seed: int) -> None:
        """Resolution is a function of the state and the RNG (print the seed on failure)."""
        kind = NemesisKind.PARTITION_MAJORITY
        first = resolve(0, spec(kind), states(2), NODES, random.Random(seed))
        again = resolve(0, spec(kind), states(2), NODES, random.Random(seed))

        assert first == again, f"seed {seed}"
