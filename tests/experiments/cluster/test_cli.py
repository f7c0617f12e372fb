"""``chaoslab cluster`` without running processes: parsing, bad input, the record."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.cluster.cli import parse_groups, parse_links
from experiments.cluster.state import ClusterState, NodeEntry, load_state, save_state
from proxy.topology import Topology


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``chaoslab ARGS`` in-process; the exit code and the combined output."""
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def record(directory: Path) -> None:
    """A cluster record without a proxy, with no process running."""
    nodes = [
        NodeEntry(
            argv=["true"],
            log=str(directory / f"n{i}.log"),
            id=i,
            listen=f"127.0.0.1:{7100 + i}",
            peer_listen=f"127.0.0.1:{7200 + i}",
            client_address=f"127.0.0.1:{7100 + i}",
            data_dir=str(directory / f"n{i}" / "data"),
        )
        for i in (1, 2, 3)
    ]
    save_state(directory, ClusterState(cluster_id="x", peer_secret_file="s", nodes=nodes))


class TestParsing:
    def test_groups(self) -> None:
        """ "1|2,3" is two groups."""
        assert [[1], [2, 3]] == parse_groups("1|2,3")

    @pytest.mark.parametrize("text", ["a|b", "1||2", ""])
    def test_bad_groups(self, text: str) -> None:
        """Non-numbers and empty groups are bad parameters naming GROUPS."""
        with pytest.raises(click.BadParameter):
            parse_groups(text)

    def test_links(self) -> None:
        """Arrows, proxy names and --node all name proxies; nothing means every peer link."""
        topology = Topology(nodes=3)

        assert (
            ["client_n3", "n1_n2"],
            ["n1_n2", "n1_n3", "n2_n1", "n3_n1"],
            6,
        ) == (
            parse_links(topology, ("1->2", "client_n3"), ()),
            parse_links(topology, (), (1,)),
            len(parse_links(topology, (), ())),
        )

    @pytest.mark.parametrize(("items", "nodes"), [(("1->1",), ()), (("n4_n1",), ()), ((), (9,))])
    def test_bad_links(self, items: tuple[str, ...], nodes: tuple[int, ...]) -> None:
        """Links that are no proxy of the cluster are bad parameters."""
        with pytest.raises(click.BadParameter):
            parse_links(Topology(nodes=3), items, nodes)


class TestBadInput:
    @pytest.mark.parametrize(
        "args",
        [
            ["cluster", "status"],
            ["cluster", "partition", "1|2,3"],
            ["cluster", "heal"],
            ["cluster", "pause", "2"],
            ["cluster", "info", "--json"],
        ],
    )
    def test_no_cluster_is_exit_2_naming_the_dir(self, tmp_path: Path, args: list[str]) -> None:
        """Without a record every command exits 2 and names the directory."""
        code, output = invoke(*args, "--cluster-dir", str(tmp_path))

        assert (2, True) == (code, str(tmp_path) in output)

    def test_network_fault_without_proxy_is_exit_1(self, tmp_path: Path) -> None:
        """A partition on a cluster without a proxy exits 1 saying how to get one."""
        record(tmp_path)

        code, output = invoke("cluster", "partition", "1|2,3", "--cluster-dir", str(tmp_path))

        assert (1, True) == (code, "--with-proxy" in output)

    def test_unknown_node_is_exit_2(self, tmp_path: Path) -> None:
        """pause 9 of a 3-node cluster is bad input."""
        record(tmp_path)

        code, output = invoke("cluster", "pause", "9", "--cluster-dir", str(tmp_path))

        assert (2, True) == (code, "node 9 is not in this cluster" in output)

    def test_data_dir_is_a_hidden_alias(self, tmp_path: Path) -> None:
        """--data-dir (the older name) still works, and help shows only --cluster-dir."""
        record(tmp_path)

        code, output = invoke("cluster", "info", "--json", "--data-dir", str(tmp_path))
        _, help_text = invoke("cluster", "status", "--help")

        assert (0, "x") == (code, json.loads(output)["cluster_id"])
        assert ("--cluster-dir" in help_text, "--data-dir" in help_text) == (True, False)

    def test_cluster_dir_from_the_environment(self, tmp_path: Path) -> None:
        """CHAOSLAB_CLUSTER_DIR names the directory (CHAOSLAB_DATA_DIR is the older name)."""
        record(tmp_path)

        new = invoke("cluster", "info", "--json", env={"CHAOSLAB_CLUSTER_DIR": str(tmp_path)})
        old = invoke("cluster", "info", "--json", env={"CHAOSLAB_DATA_DIR": str(tmp_path)})

        assert (0, 0) == (new[0], old[0])

    def test_unwritable_cluster_dir_is_one_line(self, tmp_path: Path) -> None:
        """A cluster directory that cannot be created exits 1 with one line, no traceback."""
        blocker = tmp_path / "file"
        blocker.write_text("x")

        code, output = invoke("cluster", "up", "--cluster-dir", str(blocker / "sub"))

        assert (1, True, False) == (code, "cannot create" in output, "Traceback" in output)

    def test_url_and_server_exclude_each_other(self, tmp_path: Path) -> None:
        """--toxiproxy-url and --toxiproxy-server together are bad input."""
        code, output = invoke(
            "cluster", "up", "--cluster-dir", str(tmp_path),
            "--toxiproxy-url", "http://127.0.0.1:1", "--toxiproxy-server", "/bin/true",
        )  # fmt: skip

        assert (2, True) == (code, "exclude each other" in output)


class TestRecord:
    def test_version_1_records_still_load(self, tmp_path: Path) -> None:
        """A record written before peer listeners existed loads, with empty new fields."""
        old = {
            "version": 1,
            "nodes": [
                {
                    "argv": ["x"],
                    "log": "l",
                    "pid": None,
                    "id": 1,
                    "listen": "127.0.0.1:7101",
                    "client_address": "127.0.0.1:7101",
                    "data_dir": "d",
                }
            ],
            "proxy": None,
        }
        (tmp_path / "cluster.json").write_text(json.dumps(old))

        state = load_state(tmp_path)

        assert ("", "", [], False) == (
            state.cluster_id,
            state.nodes[0].peer_listen,
            state.faults,
            state.nodes[0].paused,
        )
