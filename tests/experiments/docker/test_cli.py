"""``chaoslab docker compose-file`` and the bad-input paths of ``chaoslab docker``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from experiments.cli import main
from proxy.topology import Placement, Topology, toxiproxy_config


class TestComposeFile:
    def test_prints_n_nodes(self) -> None:
        """The printed file has Toxiproxy, the secret init, n1..nN and the runner."""
        result = CliRunner().invoke(main, ["docker", "compose-file", "--nodes", "3"])
        expected = (0, ["toxiproxy", "peer-secret", "n1", "n2", "n3", "runner"])

        actual = (result.exit_code, list(yaml.safe_load(result.output)["services"]))

        assert expected == actual

    def test_writes_compose_and_proxies(self, tmp_path: Path) -> None:
        """--out writes the compose file and the proxies' JSON it mounts."""
        result = CliRunner().invoke(
            main, ["docker", "compose-file", "--nodes", "3", "--out", str(tmp_path)]
        )
        expected = (
            0,
            toxiproxy_config(Topology(nodes=3, placement=Placement.compose())),
            ["./toxiproxy.json:/config/toxiproxy.json:ro"],
        )

        actual = (
            result.exit_code,
            json.loads((tmp_path / "toxiproxy.json").read_text(encoding="utf-8")),
            yaml.safe_load((tmp_path / "docker-compose.yml").read_text(encoding="utf-8"))[
                "services"
            ]["toxiproxy"]["volumes"],
        )

        assert expected == actual

    def test_bad_size_exits_2(self) -> None:
        """A cluster size outside 1..99 is bad input."""
        expected = 2

        actual = CliRunner().invoke(main, ["docker", "compose-file", "--nodes", "0"]).exit_code

        assert expected == actual


class TestPartition:
    def test_bad_groups_exit_2(self) -> None:
        """Groups that are not node ids are bad input, refused before Docker is asked."""
        result = CliRunner().invoke(main, ["docker", "partition", "a,b|c"])
        expected = (2, True)

        actual = (result.exit_code, "GROUPS" in result.output)

        assert expected == actual
