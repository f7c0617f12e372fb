"""``chaoslab proxy config`` prints or writes the topology's Toxiproxy config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from experiments.cli import main
from proxy.topology import Placement, Topology, toxiproxy_config


class TestProxyConfig:
    def test_prints_local_config(self) -> None:
        """The printed JSON is the local topology's config for the given size and base."""
        result = CliRunner().invoke(
            main, ["proxy", "config", "--nodes", "3", "--base-port", "30000"]
        )

        expected = toxiproxy_config(Topology(nodes=3, base_port=30000))
        assert (0, expected) == (result.exit_code, json.loads(result.stdout))

    def test_writes_compose_config(self, tmp_path: Path) -> None:
        """--out writes the compose config to the file and prints nothing."""
        out = tmp_path / "toxiproxy.json"

        result = CliRunner().invoke(
            main, ["proxy", "config", "--nodes", "5", "--mode", "compose", "--out", str(out)]
        )

        expected = toxiproxy_config(Topology(nodes=5, placement=Placement.compose()))
        assert (0, "", expected) == (
            result.exit_code,
            result.stdout,
            json.loads(out.read_text(encoding="utf-8")),
        )

    @pytest.mark.parametrize(
        ("args", "fragment"),
        [
            (["--nodes", "0"], "nodes=0"),
            (["--nodes", "5", "--base-port", "65500"], "beyond 65535"),
            (["--nodes", "3", "--base-port", "7000"], "node port 7001"),
        ],
    )
    def test_bad_input_one_line_exit_2(self, args: list[str], fragment: str) -> None:
        """Impossible topologies exit 2 with one line naming the problem."""
        result = CliRunner().invoke(main, ["proxy", "config", *args])

        lines = result.stderr.strip().splitlines()
        assert (2, 1, True) == (result.exit_code, len(lines), fragment in lines[0])

    def test_unwritable_out(self, tmp_path: Path) -> None:
        """An --out path in a missing directory exits 2 naming the path."""
        out = tmp_path / "missing" / "x.json"

        result = CliRunner().invoke(main, ["proxy", "config", "--nodes", "2", "--out", str(out)])

        assert (2, True) == (result.exit_code, str(out) in result.stderr)

    def test_unknown_mode(self) -> None:
        """An unknown --mode is a usage error (exit 2) naming the choices."""
        result = CliRunner().invoke(main, ["proxy", "config", "--nodes", "2", "--mode", "k8s"])

        assert (2, True) == (result.exit_code, "compose" in result.output)
