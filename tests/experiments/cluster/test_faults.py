"""Faults on a running local cluster from the command line, undone from "another terminal"
(another CLI invocation that knows only the cluster directory); and the three proxy kinds."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.cluster import LocalCluster, UpOptions, processes
from experiments.cluster.layout import find_base
from experiments.cluster.testing import caught_up, running_cluster, wait_for
from nodes.client import Client
from proxy.control import ToxiproxyControl
from proxy.server import run_in_thread

SHARED_BINARY = Path(__file__).resolve().parents[3].parent / "shared/bin/toxiproxy-server"


def cli(cluster: LocalCluster, *args: str) -> tuple[int, str]:
    """``chaoslab cluster ARGS --cluster-dir DIR`` in a fresh invocation (a new terminal)."""
    result = CliRunner().invoke(
        main, ["cluster", *args, "--cluster-dir", str(cluster.data_dir)], catch_exceptions=False
    )
    return result.exit_code, result.output


def toxics(cluster: LocalCluster) -> int:
    """How many toxics the cluster's proxies carry, plus disabled proxies."""
    control = cluster.control()
    assert control is not None
    proxies = control.proxies()
    return sum(len(p.toxics) for p in proxies.values()) + sum(
        not p.enabled for p in proxies.values()
    )


@pytest.fixture(scope="module", name="cluster")
def fixture_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Three nodes behind the embedded Toxiproxy."""
    with running_cluster(tmp_path_factory.mktemp("faults"), UpOptions(with_proxy=True)) as c:
        yield c


class TestFaultCommands:
    def test_partition_is_healed_from_another_terminal(self, cluster: LocalCluster) -> None:
        """partition "1|2,3": the majority commits, node 1 does not see it; `heal` (another
        invocation) restores every link and node 1 catches up."""
        code, said = cli(cluster, "partition", "1|2,3")
        recorded = [f.f for f in cluster.state().faults]
        majority = [cluster.state().node(n).client_address for n in (2, 3)]
        with Client(majority, timeout_s=20.0, seed=1) as client:
            written = client.put("cut", "majority")
        target = max(r.view.commit_index for r in cluster.status() if r.view)
        cut_off = caught_up(cluster, 1, target)
        healed, _ = cli(cluster, "heal")
        wait_for(lambda: caught_up(cluster, 1, target), what="node 1 to catch up", timeout_s=30)

        assert (0, True, ["partition"]) == (code, "n1 | n2,n3" in said, recorded)
        assert ("ok", False) == (written.status, cut_off)
        assert (0, 0, []) == (healed, toxics(cluster), cluster.state().faults)

    def test_pause_and_resume(self, cluster: LocalCluster) -> None:
        """pause 2 stops the process (it stops answering, the record says paused); resume
        thaws it and it answers again."""
        paused, _ = cli(cluster, "pause", "2")
        entry = cluster.state().node(2)
        silent = next(r for r in cluster.status() if r.id == 2).view is None
        _, info = cli(cluster, "info", "--json")
        resumed, _ = cli(cluster, "resume", "2")
        answers = wait_for(
            lambda: next(r for r in cluster.status() if r.id == 2).view is not None,
            what="node 2 to answer again",
        )

        recorded = json.loads(info)["nodes"][1]["paused"]
        assert (0, True, True, True) == (paused, entry.paused, silent, recorded)
        assert (0, True, False) == (resumed, answers, cluster.state().node(2).paused)

    def test_latency_and_bandwidth_then_heal(self, cluster: LocalCluster) -> None:
        """latency on node 1's links and bandwidth on one link are toxics until heal."""
        latency, _ = cli(cluster, "latency", "--ms", "20", "--jitter", "5", "--node", "1")
        bandwidth, _ = cli(cluster, "bandwidth", "2->3", "--rate", "500", "--stream", "upstream")
        during = toxics(cluster)
        cli(cluster, "heal")

        assert (0, 0, 4 * 2 + 1, 0) == (latency, bandwidth, during, toxics(cluster))

    def test_loss_flapper_is_stopped_by_heal(self, cluster: LocalCluster) -> None:
        """loss starts a detached flapper recorded by pid; heal stops it and restores links."""
        code, _ = cli(cluster, "loss", "--p", "0.5", "--interval-ms", "50", "--for", "60")
        fault = cluster.state().faults[0]
        running = processes.is_running(fault.pid, fault.argv)
        cli(cluster, "heal")

        assert (0, True) == (code, running)
        assert (False, 0) == (processes.is_running(fault.pid, fault.argv), toxics(cluster))

    def test_info_json(self, cluster: LocalCluster) -> None:
        """info --json names the proxy's URL and every node's listeners."""
        code, output = cli(cluster, "info", "--json")
        data = json.loads(output)
        proxy = data["proxy"]

        assert (0, "embedded", cluster.state().proxy_url) == (code, proxy["kind"], proxy["url"])
        assert [n.peer_listen for n in cluster.state().nodes] == [
            n["peer_listen"] for n in data["nodes"]
        ]


def real_binary() -> Path | None:
    """A real toxiproxy-server binary, if this machine has one."""
    found = shutil.which("toxiproxy-server")
    if found:
        return Path(found)
    return SHARED_BINARY if SHARED_BINARY.is_file() else None


class TestProxyKinds:
    def test_real_toxiproxy_server(self, tmp_path: Path) -> None:
        """--toxiproxy-server starts the real binary; faults and heal work through it; down
        stops it."""
        binary = real_binary()
        if binary is None:
            pytest.skip("no toxiproxy-server on PATH or in ../shared/bin")
        options = UpOptions(with_proxy=True, toxiproxy_server=binary)
        with running_cluster(tmp_path / "c", options) as cluster:
            code, _ = cli(cluster, "partition", "1|2,3", "--mode", "refuse")
            during = toxics(cluster)
            cli(cluster, "heal")
            after = toxics(cluster)
            proxy = cluster.state().proxy
            assert proxy is not None
            version = ToxiproxyControl(cluster.state().proxy_url or "").version()
        stopped = not processes.is_running(proxy.pid, proxy.argv)

        assert ("server", 0, 4, 0, True) == (proxy.kind, code, during, after, stopped)
        assert version.startswith("2.")

    def test_external_toxiproxy_url(self, tmp_path: Path) -> None:
        """--toxiproxy-url uses a running server: the proxies are made there, faults work,
        and down deletes the proxies but leaves the server running."""
        with run_in_thread("127.0.0.1", 0) as server:
            start = random.Random().randrange(40_000, 58_000, 10)
            base = find_base(3, with_proxy=True, start=start)
            options = UpOptions(base_port=base, toxiproxy_url=server.url)
            cluster = LocalCluster(tmp_path / "c")
            try:
                cluster.up(options, wait_s=30)
                made = len(ToxiproxyControl(server.url).proxies())
                code, _ = cli(cluster, "isolate", "1")
                during = toxics(cluster)
                cli(cluster, "heal")
            finally:
                cluster.down(purge=True)
            left = len(ToxiproxyControl(server.url).proxies())

        assert (9, 0, 8, 0) == (made, code, during, left)

    def test_paused_cluster_goes_down(self, tmp_path: Path) -> None:
        """down stops a paused node too (it is resumed first, then terminated)."""
        with running_cluster(tmp_path / "c") as cluster:
            cluster.pause(3)
            pid = cluster.state().node(3).pid
            argv = cluster.state().node(3).argv
            cluster.down()
            alive = processes.is_running(pid, argv)
            cluster.up(UpOptions(), wait_s=30)

        assert not alive
