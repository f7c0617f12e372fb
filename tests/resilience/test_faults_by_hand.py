"""chaoslab's own resilience tests with faults injected by hand into a running cluster
(the ``chaos_cluster`` fixture), written with its pytest plugin.

These run on the session's backend: ``local`` by default (one cluster of node processes for
the module), ``docker`` in the CI recipe (the compose cluster the recipe started, named with
``--chaoslab-docker-project``); on ``sim`` they skip, saying why. Every fault is healed
after each test; waits are bounded and nothing asserts a duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from experiments.pytest_plugin import ChaosCluster
from nodes.client import Client

SETTLE_S = 15.0
"""How long a healed cluster may take to agree again (bounded waits only)."""


def _eventually(action: Callable[[], bool], timeout_s: float = SETTLE_S) -> bool:
    """Whether ``action`` comes true within ``timeout_s`` (tried every 0.2 s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if action():
            return True
        time.sleep(0.2)
    return action()


def _home(cluster: ChaosCluster, node: int) -> Client:
    """A client that talks to ``node`` only (the node forwards what it cannot serve)."""
    return cluster.client(routing="home", home=cluster.addresses[node], timeout_s=2.0,
                          attempt_timeout_s=0.5)


class TestFaultsByHand:
    """A running cluster, faults injected by the test, healed after each test."""

    def test_an_isolated_leader_is_replaced_and_serves_nothing(
        self, chaos_cluster: ChaosCluster
    ) -> None:
        """The majority elects a new leader and keeps accepting writes; the old leader
        answers no linearizable read; after the heal it reads the majority's write."""
        old = chaos_cluster.wait_for_leader()
        survivor = next(n for n in chaos_cluster.nodes if n != old)
        majority, cut_off = _home(chaos_cluster, survivor), _home(chaos_cluster, old)
        assert majority.put("hand/isolated", "before").ok

        with chaos_cluster.isolate(old):
            new = chaos_cluster.wait_for_leader(exclude=(old,))
            written = majority.put("hand/isolated", "during")
            stale = cut_off.get("hand/isolated")

        assert (True, False) == (written.ok, stale.ok)
        assert new != old
        assert _eventually(lambda: cut_off.get("hand/isolated").value == "during")

    def test_a_killed_leader_is_replaced_and_rejoins(self, chaos_cluster: ChaosCluster) -> None:
        """After kill -9 a new leader takes writes; restarted on its data, the old leader
        serves them."""
        old = chaos_cluster.wait_for_leader()
        survivor = next(n for n in chaos_cluster.nodes if n != old)
        client = _home(chaos_cluster, survivor)

        chaos_cluster.kill(old)
        chaos_cluster.wait_for_leader(exclude=(old,))
        written = client.put("hand/killed", "after-kill")
        chaos_cluster.restart(old)

        assert written.ok
        assert _eventually(lambda: _home(chaos_cluster, old).get("hand/killed").value
                           == "after-kill")

    def test_a_paused_follower_does_not_stop_the_majority(
        self, chaos_cluster: ChaosCluster
    ) -> None:
        """With one follower frozen the others keep committing; thawed, it catches up."""
        leader = chaos_cluster.wait_for_leader()
        follower = next(n for n in chaos_cluster.nodes if n != leader)
        client = _home(chaos_cluster, leader)

        with chaos_cluster.inject("pause", target=f"n{follower}"):
            written = client.put("hand/paused", "while-frozen")

        assert written.ok
        assert _eventually(lambda: _home(chaos_cluster, follower).get("hand/paused").value
                           == "while-frozen")


def test_latency_slows_but_breaks_nothing(chaos_cluster: ChaosCluster) -> None:
    """With 50 ms more on every peer link (a round trip still well inside the election
    timeout) the cluster keeps its leader, commits and reads its writes."""
    client = chaos_cluster.client(timeout_s=5.0)

    with chaos_cluster.inject("latency", ms=50, jitter=10):
        written = client.put("hand/latency", "slow")
        read = client.get("hand/latency")

    assert (True, "slow") == (written.ok, read.value)
