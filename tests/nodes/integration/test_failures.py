"""A running cluster under crashes, restarts and partitions (real processes, bounded waits)."""

from __future__ import annotations

import random
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.cluster import ClusterError, LocalCluster, UpOptions
from experiments.cluster.layout import find_base
from experiments.cluster.testing import caught_up, running_cluster, wait_for
from nodes.client import Client
from proxy.control import ToxiproxyControl
from proxy.faults import CutMode, isolate
from proxy.injection import heal, start


def _write_all(client: Client, prefix: str, count: int) -> dict[str, str]:
    """Write ``count`` keys; return the acknowledged ones."""
    acked = {}
    for i in range(count):
        key, value = f"{prefix}-{i}", f"{prefix}-value-{i}"
        if client.put(key, value).ok:
            acked[key] = value
    return acked


def _read_all(client: Client, keys: dict[str, str]) -> dict[str, str | None]:
    return {key: client.get(key).value for key in keys}


class TestLeaderCrash:
    """SIGKILL of the leader: a new leader, no acknowledged write lost, the old one catches up."""

    def test_kill_leader_then_restart_it_far_behind(self, tmp_path: Path) -> None:
        """Acked writes survive the leader's crash; restarted, it catches up by snapshot."""
        with running_cluster(tmp_path / "c", UpOptions(snapshot_every=20)) as cluster:
            addresses = cluster.state().client_addresses
            with Client(addresses, timeout_s=10.0, seed=11) as client:
                before = _write_all(client, "before", 30)
                old = cluster.wait_for_leader(30)
                cluster.kill(old.id)
                new = wait_for(
                    lambda: next(
                        (r for r in cluster.status() if r.view and r.view.role == "leader"), None
                    ),
                    what="a new leader",
                )
                after = _write_all(client, "after", 80)
                read_back = _read_all(client, {**before, **after})
                target = max(r.view.commit_index for r in cluster.status() if r.view)
                cluster.restart(old.id)
                wait_for(lambda: caught_up(cluster, old.id, target), what="the restart to catch up")
                log = Path(cluster.state().node(old.id).log).read_text()

        assert old.id != new.id
        assert (30, 80) == (len(before), len(after))
        assert {**before, **after} == read_back
        assert "snapshot_installed" in log


class TestFullRestart:
    """Stopping every node and starting them again keeps the data."""

    def test_data_survives_down_and_up(self, tmp_path: Path) -> None:
        """Writes acknowledged before ``down`` are read back after ``up`` on the same data."""
        with running_cluster(tmp_path / "c") as cluster:
            addresses = cluster.state().client_addresses
            with Client(addresses, timeout_s=10.0, seed=5) as client:
                acked = _write_all(client, "durable", 10)
            cluster.down()
            logs = [Path(n.log).read_text() for n in cluster.state().nodes]
            cluster.up(UpOptions(), wait_s=30)
            with Client(addresses, timeout_s=10.0, seed=6) as client:
                read_back = _read_all(client, acked)

        assert 10 == len(acked)
        assert acked == read_back
        assert all('"exit_code": 0, "event": "node_stopped"' in log for log in logs)


class TestForwardWrites:
    """With --forward-writes a follower forwards writes instead of redirecting."""

    def test_follower_forwards_a_put(self, tmp_path: Path) -> None:
        """A client that knows only a follower gets its write applied through it."""
        with running_cluster(tmp_path / "c", UpOptions(forward_writes=True)) as cluster:
            leader = cluster.wait_for_leader(30)
            follower = next(n for n in cluster.state().nodes if n.id != leader.id)
            with Client([follower.client_address], timeout_s=10.0, seed=9) as client:
                put = client.put("fwd", "yes")
                got = client.get("fwd")

        assert ("ok", follower.client_address) == (put.status, put.node)
        assert "yes" == got.value


def _leader_address(cluster: LocalCluster, node_id: int) -> str:
    return cluster.state().node(node_id).client_address


class TestPartition:
    """A partition through the embedded Toxiproxy: only the majority commits; heal catches up."""

    def test_isolated_leader_cannot_commit_majority_can_then_heals(self, tmp_path: Path) -> None:
        """Isolating the leader (drop): it cannot commit, the others elect and commit; after
        healing, the old leader catches up and serves the majority's write."""
        with running_cluster(tmp_path / "c", UpOptions(with_proxy=True)) as cluster:
            topology = cluster.topology()
            url = cluster.state().proxy_url
            assert topology is not None and url is not None
            control = ToxiproxyControl(url)
            old = cluster.wait_for_leader(30)
            others = [n for n in topology.node_ids if n != old.id]
            minority = Client([_leader_address(cluster, old.id)], timeout_s=3.0, seed=1)
            majority = Client([_leader_address(cluster, n) for n in others], timeout_s=15.0, seed=2)
            with minority, majority:
                fault = start(isolate(topology, old.id, mode=CutMode.DROP), control)
                try:
                    cut_off = minority.put("split", "minority")
                    chosen = majority.put("split", "majority")
                finally:
                    heal(control, topology, faults=[fault])
                target = max(r.view.commit_index for r in cluster.status() if r.view)
                wait_for(
                    lambda: caught_up(cluster, old.id, target),
                    what="the old leader to catch up",
                    timeout_s=30,
                )
                local = minority.get("split", "stale")
                linear = majority.get("split")

        assert cut_off.status in {"fail", "info"}
        assert "ok" == chosen.status
        assert ("majority", "majority") == (local.value, linear.value)


def _bind(sock: socket.socket, host: str, port: int) -> bool:
    """Bind ``sock`` to ``host:port`` if the port is free now."""
    try:
        sock.bind((host, port))
    except OSError:
        return False
    return True


class TestStartFailures:
    """A node that cannot start is reported, never shown as merely unreachable."""

    def test_up_refuses_taken_ports(self, tmp_path: Path) -> None:
        """With the client ports of nodes 2 and 3 held, up raises ClusterError naming
        them and starts nothing."""
        base = find_base(3, with_proxy=False, start=random.Random().randrange(40_000, 59_000, 10))
        cluster = LocalCluster(tmp_path / "c")
        with socket.socket() as two, socket.socket() as three:
            for holder, node in ((two, 2), (three, 3)):
                holder.bind(("127.0.0.1", base + node))
                holder.listen()
            with pytest.raises(ClusterError) as caught:
                cluster.up(UpOptions(base_port=base), wait_s=60)
            running = cluster.running()

        assert f"ports [{base + 2}, {base + 3}]" in str(caught.value)
        assert [] == running

    def test_up_reports_a_node_that_dies_on_start(self, tmp_path: Path) -> None:
        """A node whose data directory is unusable exits at once; up raises ClusterError
        naming it and quoting its log (not "no leader in time")."""
        with running_cluster(tmp_path / "c") as cluster:
            cluster.down()
            data = Path(cluster.state().node(3).data_dir)
            # Set node 3's state aside rather than delete it: it may hold the only copy
            # but one of a committed entry, and a node that lost it could let a fresh
            # majority commit another (the others then stop, rightly, on the conflict).
            kept = data.with_name("data.kept")
            data.rename(kept)
            data.write_text("not a directory")
            with pytest.raises(ClusterError) as caught:
                cluster.up(UpOptions(), wait_s=60)
            data.unlink()
            kept.rename(data)
            cluster.down()
            cluster.up(UpOptions(), wait_s=60)

        assert re.search(r"node 3 \(pid \d+\) exited \(exit code 2\).*is a file", str(caught.value))

    def test_restart_reports_a_node_that_could_not_listen(self, tmp_path: Path) -> None:
        """Restarting a node whose port another process took raises ClusterError naming the
        node and its listen error, and `cluster restart` exits 1."""
        with running_cluster(tmp_path / "c") as cluster:
            entry = cluster.state().node(2)
            cluster.kill(2)
            host, _, port = entry.listen.rpartition(":")
            with socket.socket() as holder:
                # The killed node's connections may hold the port for a moment.
                holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                wait_for(lambda: _bind(holder, host, int(port)), what=f"port {port} to be free")
                holder.listen()
                with pytest.raises(ClusterError) as caught:
                    cluster.restart(2)
                cli = CliRunner().invoke(
                    main, ["cluster", "restart", "2", "--cluster-dir", str(cluster.data_dir)]
                )
            cluster.restart(2)

        assert re.search(
            r"node 2 \(pid \d+\) exited .*node_refused_to_start: cannot listen", str(caught.value)
        )
        assert (1, True) == (cli.exit_code, "exited" in cli.output)
