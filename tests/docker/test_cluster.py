"""The compose cluster end to end: election, writes through every client proxy, a
majority/minority partition through Toxiproxy, kill -9 of the leader and its return.

The tests share one cluster (session fixture) and run in file order; each leaves the
cluster healed with every node running. Every wait is bounded; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import pytest

from experiments.docker import DockerCluster, HostAsyncClient
from nodes.client import Outcome
from proxy import faults, injection

T = TypeVar("T")
WAIT_S = 30.0


def with_client(
    cluster: DockerCluster,
    nodes: Sequence[int],
    action: Callable[[HostAsyncClient], Awaitable[T]],
    *,
    timeout_s: float = 10.0,
    reach: Sequence[int] | None = None,
) -> T:
    """Run ``action`` with a client that sends to ``nodes`` (their client proxies).

    It can follow redirects to the nodes in ``reach`` only (default: ``nodes``); others
    are not dialable from it, so a client of a minority stays in the minority.
    """
    in_network = cluster.topology().client_addresses()
    mapping = cluster.address_map()
    reachable = {in_network[n]: mapping[in_network[n]] for n in (reach or nodes)}

    async def run() -> T:
        client = HostAsyncClient(
            [reachable[in_network[n]] for n in nodes],
            address_map=reachable,
            timeout_s=timeout_s,
            seed=len(nodes),
        )
        async with client:
            return await action(client)

    return asyncio.run(run())


def put(
    cluster: DockerCluster,
    nodes: Sequence[int],
    key: str,
    value: str,
    *,
    reach: Sequence[int] | None = None,
) -> Outcome[None]:
    """Write through ``nodes``, following redirects within ``reach`` (default: ``nodes``)."""
    return with_client(cluster, nodes, lambda c: c.put(key, value), reach=reach)


def get(
    cluster: DockerCluster, nodes: Sequence[int], key: str, consistency: str = "linearizable"
) -> Outcome[str | None]:
    """Read through ``nodes`` only."""
    return with_client(cluster, nodes, lambda c: c.get(key, consistency), timeout_s=5.0)


def caught_up(cluster: DockerCluster, node: int, key: str, value: str) -> bool:
    """Whether ``node`` serves ``value`` for ``key`` from its own state."""
    outcome = get(cluster, [node], key, "stale")
    return outcome.ok and outcome.value == value


ALL = (1, 2, 3, 4, 5)


class TestElection:
    def test_leader_elected(self, cluster: DockerCluster) -> None:
        """A majority of the five nodes agrees on one leader after compose up."""
        expected = True

        actual = cluster.wait_for_leader(timeout_s=WAIT_S) in ALL

        assert expected == actual


class TestClientProxies:
    def test_writes_through_every_client_proxy(self, cluster: DockerCluster) -> None:
        """A write sent to each node's client proxy (redirected to the leader by followers)
        commits and is read back through another node."""
        expected = {n: ("ok", f"value-{n}") for n in ALL}

        actual = {}
        for n in ALL:
            written = put(cluster, [n], f"proxy-{n}", f"value-{n}", reach=ALL)
            read = get(cluster, [n % 5 + 1], f"proxy-{n}")
            actual[n] = (written.status, read.value if read.ok else read.error)

        assert expected == actual


class TestPartition:
    def test_majority_commits_minority_does_not(self, cluster: DockerCluster) -> None:
        """With the leader in a 2-node minority, only the majority commits; minority
        linearizable reads fail instead of returning stale data; after heal the minority
        catches up and the minority's write never appears."""
        assert put(cluster, ALL, "p", "before").ok
        leader = cluster.wait_for_leader(timeout_s=WAIT_S)
        minority = [leader, leader % 5 + 1]
        majority = [n for n in ALL if n not in minority]
        topology = cluster.topology()
        control = cluster.control()
        fault = injection.start(faults.partition(topology, [minority, majority]), control)
        try:
            minority_write = put(cluster, minority, "p-minority", "lost")
            majority_write = with_client(
                cluster, majority, lambda c: c.put("p", "after"), timeout_s=30.0
            )
            minority_read = get(cluster, minority, "p")
        finally:
            injection.heal(control, topology, faults=[fault])
        cluster.wait_until(
            lambda: all(caught_up(cluster, n, "p", "after") for n in minority),
            timeout_s=WAIT_S,
            what="the minority catching up",
        )
        expected = ("not ok", "ok", "fail", None)

        actual = (
            "not ok" if not minority_write.ok else "ok",
            majority_write.status,
            minority_read.status,
            get(cluster, ALL, "p-minority").value,
        )

        assert expected == actual, (minority_write, majority_write, minority_read)


class TestKillLeader:
    def test_kill_leader_loses_no_acknowledged_write(self, cluster: DockerCluster) -> None:
        """After kill -9 of the leader's container a new leader is elected and every write
        acknowledged before the kill is read back."""
        acked = {}
        for i in range(20):
            if put(cluster, ALL, f"k{i}", f"v{i}").ok:
                acked[f"k{i}"] = f"v{i}"
        old = cluster.wait_for_leader(timeout_s=WAIT_S)
        cluster.kill(old)
        new = cluster.wait_for_leader(timeout_s=WAIT_S)
        survivors = [n for n in ALL if n != old]
        expected = (True, acked)

        actual = (new != old, {k: get(cluster, survivors, k).value for k in acked})

        assert expected == actual
        assert len(acked) > 0

    def test_restarted_node_rejoins(self, cluster: DockerCluster) -> None:
        """The killed node's container starts again on its volume and catches up."""
        stopped = [n for n in ALL if cluster.state(n) != "running"]
        assert len(stopped) == 1
        node = stopped[0]
        cluster.start(node)
        assert put(cluster, ALL, "rejoin", "yes").ok
        cluster.wait_until(
            lambda: caught_up(cluster, node, "rejoin", "yes"),
            timeout_s=WAIT_S,
            what=f"n{node} catching up",
        )
        expected = ("running", "v0")

        actual = (cluster.state(node), get(cluster, [node], "k0", "stale").value)

        assert expected == actual


@pytest.fixture(autouse=True, name="healed")
def fixture_healed(cluster: DockerCluster) -> None:
    """Start every test with no fault left on any proxy."""
    injection.heal(cluster.control(), cluster.topology())
