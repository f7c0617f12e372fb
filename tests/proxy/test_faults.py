"""proxy.faults: fault plans as pure data (no server)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy import faults, grudge
from proxy.control import Toxic
from proxy.faults import CutMode, FaultError, ToxicPlacement
from proxy.topology import Link, Topology

FIVE = Topology(nodes=5)


def _timeouts(proxy: str, tag: str) -> list[ToxicPlacement]:
    return [
        ToxicPlacement(
            proxy=proxy,
            toxic=Toxic(
                type="timeout",
                name=f"chaoslab-{tag}-{stream}",
                stream=stream,
                attributes={"timeout": 0},
            ),
        )
        for stream in ("upstream", "downstream")
    ]


class TestPartition:
    def test_drop_adds_timeout_zero_both_streams(self) -> None:
        """A drop partition puts timeout=0 on both streams of every cross-group proxy."""
        plan = faults.partition(FIVE, [[1, 2], [3, 4, 5]])

        cut = sorted(
            f"n{a}_n{b}"
            for a, b in [(x, y) for x in (1, 2) for y in (3, 4, 5)]
            + [(y, x) for x in (1, 2) for y in (3, 4, 5)]
        )
        expected = [t for name in cut for t in _timeouts(name, "partition")]
        assert (expected, ()) == (list(plan.toxics), plan.disable)

    def test_refuse_disables_the_same_proxies(self) -> None:
        """A refuse partition disables the proxies a drop partition would poison."""
        drop = faults.partition(FIVE, [[1, 2], [3, 4, 5]])
        refuse = faults.partition(FIVE, [[1, 2], [3, 4, 5]], mode=CutMode.REFUSE)

        assert (drop.proxies, ()) == (refuse.disable, refuse.toxics)

    def test_unlisted_nodes_form_a_group(self) -> None:
        """Nodes left out of the groups stay together as one more group."""
        plan = faults.partition(FIVE, [[1, 2]])

        assert [["n1", "n2"], ["n3", "n4", "n5"]] == plan.value["groups"]

    @settings(max_examples=40, deadline=None)
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1))
    def test_random_halves_matches_grudge(self, seed: int) -> None:
        """random_halves cuts exactly the proxies of the seeded grudge."""
        plan = faults.random_halves(FIVE, random.Random(seed))

        made = grudge.random_halves(FIVE.node_ids, random.Random(seed))
        assert tuple(sorted(link.proxy for link in made.cuts)) == plan.proxies, f"seed={seed}"

    def test_value_is_history_ready(self) -> None:
        """The plan's value names the mode and the cut links for the history."""
        plan = faults.one_way(FIVE, 1, 2, mode=CutMode.REFUSE)

        assert ({"mode": "refuse", "cut": ["n1->n2"]}, ("n1_n2",)) == (
            dict(plan.value),
            plan.disable,
        )

    def test_client_proxies_never_cut(self) -> None:
        """Isolating a node leaves every client proxy alone."""
        plan = faults.isolate(FIVE, 3)

        assert (8, []) == (
            len(plan.proxies),
            [p for p in plan.proxies if p.startswith("client")],
        )

    def test_bridge_keeps_via(self) -> None:
        """A bridge never touches a proxy to or from the bridge node."""
        plan = faults.bridge(FIVE, [1, 2], [4, 5], 3)

        assert (8, []) == (len(plan.proxies), [p for p in plan.proxies if "n3" in p])

    @pytest.mark.parametrize(
        ("call", "fragment"),
        [
            (lambda: faults.isolate(FIVE, 6), "isolate n6"),
            (lambda: faults.partition(FIVE, [[1, 2, 3, 4, 5]]), "cuts no link"),
            (lambda: faults.one_way(Topology(nodes=2), 1, 3), "not in this 2-node"),
            (lambda: faults.majority_minority(Topology(nodes=2), random.Random(0)), "three"),
        ],
    )
    def test_bad_requests(self, call: object, fragment: str) -> None:
        """Impossible partitions are FaultErrors that say what was wrong."""
        with pytest.raises(FaultError, match=fragment):
            call()  # type: ignore[operator]


class TestLatencyAndBandwidth:
    def test_latency_toxics(self) -> None:
        """Latency puts one latency toxic per chosen stream on each named proxy."""
        plan = faults.latency(
            FIVE, [Link(src=1, dst=2), "client_n1"], 50, 10, streams=["downstream"]
        )

        expected = [
            ToxicPlacement(
                proxy=name,
                toxic=Toxic(
                    type="latency",
                    name="chaoslab-latency-downstream",
                    stream="downstream",
                    attributes={"latency": 50, "jitter": 10},
                ),
            )
            for name in ("client_n1", "n1_n2")
        ]
        assert expected == list(plan.toxics)

    def test_bandwidth_both_streams(self) -> None:
        """Bandwidth limits both streams by default."""
        plan = faults.bandwidth(FIVE, [Link(src=2, dst=1)], 64)

        assert [("upstream", {"rate": 64}), ("downstream", {"rate": 64})] == [
            (t.toxic.stream, dict(t.toxic.attributes)) for t in plan.toxics
        ]

    @pytest.mark.parametrize(
        ("call", "fragment"),
        [
            (lambda: faults.latency(FIVE, [Link(src=1, dst=2)], -1), "0 or more"),
            (lambda: faults.latency(FIVE, [], 5), "at least one link"),
            (lambda: faults.latency(FIVE, ["n9_n1"], 5), "n9_n1"),
            (lambda: faults.bandwidth(FIVE, ["n1_n2"], 5, streams=["sideways"]), "streams"),  # type: ignore[list-item]
            (lambda: faults.bandwidth(FIVE, ["n1_n2"], -5), "0 or more"),
        ],
    )
    def test_bad_amounts(self, call: object, fragment: str) -> None:
        """Negative amounts, no links, unknown proxies and bad streams are refused."""
        with pytest.raises(FaultError, match=fragment):
            call()  # type: ignore[operator]


class TestLoss:
    @settings(max_examples=30, deadline=None)
    @given(
        seed=st.integers(min_value=0, max_value=2**32 - 1),
        p=st.floats(min_value=0.0, max_value=1.0),
    )
    def test_schedule_is_seeded_and_bounded(self, seed: int, p: float) -> None:
        """The same seed gives the same schedule of exactly max_steps intervals."""
        plan = faults.loss(FIVE, FIVE.links[:6], p, seed=seed, max_steps=25)

        first, again = list(plan.schedule()), list(plan.schedule())
        assert (first, 25) == (again, len(first)), f"seed={seed}"

    @pytest.mark.parametrize(("p", "expected"), [(0.0, set()), (1.0, {"n1_n2", "n2_n1"})])
    def test_extremes(self, p: float, expected: set[str]) -> None:
        """p=0 never cuts, p=1 always cuts every link."""
        plan = faults.loss(FIVE, ["n1_n2", "n2_n1"], p, seed=1, max_steps=10)

        assert [expected] * 10 == [set(step) for step in plan.schedule()]

    def test_rate_near_p(self) -> None:
        """Over many intervals the share of cut link-intervals is near p (seed 7)."""
        plan = faults.loss(FIVE, FIVE.links, 0.3, seed=7, max_steps=500)

        share = sum(len(s) for s in plan.schedule()) / (500 * len(FIVE.links))
        assert 0.25 < share < 0.35

    def test_cut_of_uses_the_mode(self) -> None:
        """One interval's cut of one proxy is a refuse or drop plan for that proxy alone."""
        drop = faults.loss(FIVE, ["n1_n2"], 0.5, seed=1).cut_of("n1_n2")
        refuse = faults.loss(FIVE, ["n1_n2"], 0.5, seed=1, mode=CutMode.REFUSE).cut_of("n1_n2")

        assert (_timeouts("n1_n2", "loss"), ("n1_n2",)) == (list(drop.toxics), refuse.disable)

    @pytest.mark.parametrize(
        ("kwargs", "fragment"),
        [({"p": 1.5}, "probability"), ({"p": 0.5, "interval_ms": 0}, "1 or more")],
    )
    def test_rejects(self, kwargs: dict[str, float], fragment: str) -> None:
        """A probability outside [0, 1] or an empty interval is refused."""
        with pytest.raises(FaultError, match=fragment):
            faults.loss(FIVE, ["n1_n2"], seed=0, **kwargs)  # type: ignore[arg-type]
