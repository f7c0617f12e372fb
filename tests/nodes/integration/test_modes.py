"""Consistency modes and in-node faults on real node processes (bounded waits): a stale node
reads alone, an ap node writes alone and converges, the failpoint call needs the cluster's
token and --failpoints, a failing disk stops its node and loses no acknowledged write."""

from __future__ import annotations

from pathlib import Path

from experiments.cluster import LocalCluster, UpOptions
from experiments.cluster.testing import running_cluster, wait_for
from nodes.client import Client, FailpointRequest, failpoint_metadata


def _token(cluster: LocalCluster) -> tuple[tuple[str, str], ...]:
    state = cluster.state()
    return failpoint_metadata(state.peer_secret_file, state.cluster_id)


def _home(cluster: LocalCluster, node: int) -> Client:
    addresses = cluster.state().client_addresses
    return Client(addresses, timeout_s=3.0, attempt_timeout_s=1.0, routing="home",
                  home=addresses[node - 1], seed=node)


class TestStaleMode:
    def test_a_lone_node_still_reads_and_says_it_is_unsafe(self, tmp_path: Path) -> None:
        """With its two peers gone a stale node answers reads from its own state (a cp node
        could not); its status names the mode."""
        options = UpOptions(consistency="stale", forward_writes=True)
        with running_cluster(tmp_path / "c", options) as cluster, _home(cluster, 1) as client:
            assert client.put("k", "v").ok
            wait_for(lambda: client.get("k").value == "v", what="n1 to apply k")
            cluster.kill(2)
            cluster.kill(3)
            read = client.get("k")
            view = client.status(cluster.state().node(1).listen).value

        assert ("ok", "v", "stale") == (read.status, read.value,
                                        view.consistency if view else None)


class TestApMode:
    def test_a_lone_node_writes_and_the_others_converge(self, tmp_path: Path) -> None:
        """An ap node with no peer accepts a write; restarted peers get it by anti-entropy;
        a delete stays deleted everywhere."""
        with running_cluster(tmp_path / "c", UpOptions(consistency="ap")) as cluster:
            cluster.kill(2)
            cluster.kill(3)
            with _home(cluster, 1) as client:
                assert client.put("k", "alone").ok
                assert client.put("gone", "x").ok
                assert client.delete("gone").ok
            cluster.restart(2)
            cluster.restart(3)
            seen = {}
            for node in (2, 3):
                with _home(cluster, node) as client:
                    seen[node] = wait_for(
                        lambda c=client: (c.get("k").value, c.get("gone").value)
                        if c.get("k").value == "alone" else None,
                        what=f"n{node} to converge",
                    )

        assert {2: ("alone", None), 3: ("alone", None)} == seen


class TestFailpoints:
    def test_refused_without_the_flag_or_the_token(self, tmp_path: Path) -> None:
        """No --failpoints: FAILED_PRECONDITION even with the token; with the flag but no
        token: UNAUTHENTICATED."""
        with running_cluster(tmp_path / "off", UpOptions(nodes=1)) as cluster:
            address = cluster.state().node(1).listen
            with Client([address]) as client:
                off = client.failpoint(address, FailpointRequest(clock_jump_ms=5), _token(cluster))
        with running_cluster(tmp_path / "on", UpOptions(nodes=1, failpoints=True)) as cluster:
            address = cluster.state().node(1).listen
            with Client([address]) as client:
                anonymous = client.failpoint(address, FailpointRequest(clock_jump_ms=5), ())
                granted = client.failpoint(address, FailpointRequest(clock_jump_ms=-5000),
                                           _token(cluster))
                view = client.status(address).value

        assert (off.error or "").startswith("FAILED_PRECONDITION")
        assert (anonymous.error or "").startswith("UNAUTHENTICATED")
        assert granted.value is not None and view is not None
        assert (-5000, 1) == (view.clock_offset_ms, view.clock_changes)

    def test_a_failing_disk_stops_the_node_and_loses_no_acknowledged_write(
        self, tmp_path: Path
    ) -> None:
        """The leader's disk fails: it exits, a new leader serves, and after its restart
        every acknowledged write reads back."""
        options = UpOptions(failpoints=True, forward_writes=True)
        with running_cluster(tmp_path / "c", options) as cluster:
            leader = cluster.wait_for_leader(30)
            with Client(cluster.state().client_addresses, timeout_s=5.0, seed=3) as client:
                acked = {f"k{i}": f"v{i}" for i in range(20) if client.put(f"k{i}", f"v{i}").ok}
                address = cluster.state().node(leader.id).listen
                client.failpoint(address, FailpointRequest(disk="error"), _token(cluster))
                for i in range(20, 40):
                    if client.put(f"k{i}", f"v{i}").ok:
                        acked[f"k{i}"] = f"v{i}"
                wait_for(lambda: leader.id not in cluster.running(), what="the leader to stop")
                cluster.restart(leader.id)
                read = {key: client.get(key).value for key in acked}
            log = Path(cluster.state().node(leader.id).log).read_text()

        assert acked == read
        assert "storage failed" in log
