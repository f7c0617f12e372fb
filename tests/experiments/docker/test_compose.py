"""The generated compose file: committed copy, topology wiring, and what it publishes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.docker.compose import (
    CONFIG_MOUNT,
    ComposeSettings,
    compose_document,
    render_compose,
)
from proxy.topology import Placement, Topology, toxiproxy_config

ROOT = Path(__file__).resolve().parents[3]


def _address_map(text: str) -> dict[int, str]:
    return {int(k): v for k, v in (item.split("=") for item in text.split(","))}


class TestCommittedFiles:
    def test_compose_file_is_generated(self) -> None:
        """The committed docker-compose.yml is exactly what the generator renders."""
        expected = render_compose(ComposeSettings())

        actual = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")

        assert expected == actual

    def test_toxiproxy_config_matches_topology(self) -> None:
        """The committed proxies' JSON is the compose-mode topology of 5 nodes."""
        expected = toxiproxy_config(Topology(nodes=5, placement=Placement.compose()))

        actual = json.loads((ROOT / "nodes/docker/toxiproxy.json").read_text(encoding="utf-8"))

        assert expected == actual

    def test_rendered_yaml_is_the_document(self) -> None:
        """Parsing the rendered text gives back the document (the header is only comments)."""
        expected = compose_document()

        actual = yaml.safe_load(render_compose())

        assert expected == actual


class TestComposeDocument:
    @settings(max_examples=15, deadline=None)
    @given(nodes=st.integers(min_value=1, max_value=9))
    def test_peers_point_at_outgoing_link_proxies(self, nodes: int) -> None:
        """Every node sends to each peer through the proxy named for that direction."""
        services = compose_document(ComposeSettings(nodes=nodes))["services"]
        expected = {
            n: {p: f"toxiproxy:{20000 + 10 * n + p}" for p in range(1, nodes + 1) if p != n}
            for n in range(1, nodes + 1)
        }

        actual = {
            n: _address_map(services[f"n{n}"]["environment"]["CHAOSLAB_PEERS"]) if nodes > 1 else {}
            for n in range(1, nodes + 1)
        }

        assert expected == actual

    @settings(max_examples=15, deadline=None)
    @given(nodes=st.integers(min_value=1, max_value=9))
    def test_clients_reach_nodes_through_client_proxies(self, nodes: int) -> None:
        """Every node gives out the client proxies as the cluster's client addresses."""
        services = compose_document(ComposeSettings(nodes=nodes))["services"]
        expected = {n: f"toxiproxy:{20000 + n}" for n in range(1, nodes + 1)}

        actual = {
            _address_map(services[f"n{n}"]["environment"]["CHAOSLAB_CLIENT_ADDRESSES"])[n]
            for n in range(1, nodes + 1)
        }

        assert set(expected.values()) == actual

    @settings(max_examples=15, deadline=None)
    @given(nodes=st.integers(min_value=1, max_value=9))
    def test_ports_published_on_loopback_only(self, nodes: int) -> None:
        """Only the API and the client proxies are published, each bound to 127.0.0.1."""
        services = compose_document(ComposeSettings(nodes=nodes))["services"]
        expected = [8474, *(20000 + n for n in range(1, nodes + 1))]

        published = [p for s in services.values() for p in s.get("ports", [])]
        actual = [int(re.fullmatch(r"127\.0\.0\.1:\$\{\w+-\d+\}:(\d+)", p)[1]) for p in published]  # type: ignore[index]

        assert expected == actual

    def test_nothing_privileged(self) -> None:
        """No service is privileged or root; every one drops all capabilities and has memory
        and pid limits."""
        services: dict[str, Any] = compose_document()["services"]
        expected = {name: (None, ["ALL"], "10001:10001", True, 256) for name in services}

        actual = {
            name: (
                s.get("privileged"),
                s.get("cap_drop"),
                s.get("user"),
                bool(s.get("mem_limit")),
                s.get("pids_limit"),
            )
            for name, s in services.items()
        }

        assert expected == actual

    def test_read_only_root_filesystems(self) -> None:
        """Nodes, the proxy and the secret init write only to volumes (read-only root, /tmp
        on tmpfs); the runner, which writes run directories, keeps a writable one."""
        services: dict[str, Any] = compose_document()["services"]
        expected = {name: name != "runner" for name in services}

        actual = {name: bool(s.get("read_only")) for name, s in services.items()}

        assert expected == actual

    def test_peers_listen_apart_and_authenticate(self) -> None:
        """Each node has a peer listener on 7100 that the link proxies forward to, reads the
        secret the init service writes (read-only mount) and starts after that service."""
        document = compose_document()
        node = document["services"]["n2"]
        config = toxiproxy_config(Topology(nodes=5, placement=Placement.compose()))
        upstreams = {c["name"]: c["upstream"] for c in config}
        expected = (
            "0.0.0.0:7100",
            "/var/lib/chaoslab-secrets/peer.secret",
            "peer-secret:/var/lib/chaoslab-secrets:ro",
            {"condition": "service_completed_successfully"},
            ("n2:7100", "n2:7000"),
            ["admin", "init-secret", "/var/lib/chaoslab-secrets/peer.secret"],
        )

        actual = (
            node["environment"]["CHAOSLAB_PEER_LISTEN"],
            node["environment"]["CHAOSLAB_PEER_SECRET_FILE"],
            node["volumes"][1],
            node["depends_on"]["peer-secret"],
            (upstreams["n1_n2"], upstreams["client_n2"]),
            document["services"]["peer-secret"]["command"],
        )

        assert expected == actual

    def test_each_node_keeps_data_on_its_named_volume(self) -> None:
        """Node i mounts the named volume nI-data, and every such volume is declared."""
        document = compose_document()
        expected = {f"n{n}": f"n{n}-data:/var/lib/chaoslab" for n in range(1, 6)}

        actual = {f"n{n}": document["services"][f"n{n}"]["volumes"][0] for n in range(1, 6)}

        assert expected == actual
        assert set(document["volumes"]) == {f"n{n}-data" for n in range(1, 6)} | {"peer-secret"}

    def test_toxiproxy_command_suits_both_images(self) -> None:
        """The proxy command is flags only, each --name=value (Go's flag package and click)."""
        command = compose_document()["services"]["toxiproxy"]["command"]
        expected = ["--host=0.0.0.0", "--port=8474", f"--config={CONFIG_MOUNT}"]

        actual = command

        assert expected == actual

    def test_runner_is_under_a_profile(self) -> None:
        """The runner starts only when asked for, after every node is healthy."""
        runner = compose_document()["services"]["runner"]
        expected = (["runner"], {f"n{n}": {"condition": "service_healthy"} for n in range(1, 6)})

        actual = (runner["profiles"], runner["depends_on"])

        assert expected == actual

    def test_no_top_level_name(self) -> None:
        """No top-level `name:` (Compose v1 rejects it); only services and volumes."""
        expected = ["services", "volumes"]

        actual = list(compose_document())

        assert expected == actual
