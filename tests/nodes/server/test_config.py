"""Node settings: parsing, precedence (flags > env > TOML > defaults), errors naming fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodes.server.config import (
    NodeSettings,
    SettingsError,
    SyncMode,
    load_settings,
    parse_address_map,
)

BASE = {
    "id": 1,
    "listen": "127.0.0.1:7001",
    "peer_listen": "127.0.0.1:7101",
    "peers": "2=127.0.0.1:7102",
    "peer_secret_file": "/tmp/n1.secret",
    "data_dir": "/tmp/n1",
}


class TestParseAddressMap:
    """``ID=HOST:PORT`` lists."""

    def test_parses_ids_and_addresses(self) -> None:
        """A comma-separated list becomes an id → address map (blanks ignored)."""
        parsed = parse_address_map("2=127.0.0.1:7002, 3=h:7003,")

        assert {2: "127.0.0.1:7002", 3: "h:7003"} == parsed

    def test_rejects_an_item_without_id(self) -> None:
        """An item that is not ID=HOST:PORT is refused, quoting the item."""
        with pytest.raises(ValueError, match="'h:7003' is not ID=HOST:PORT"):
            parse_address_map("h:7003")


class TestLoadSettings:
    """Merging and validating the layers."""

    def test_defaults_match_the_simulator(self) -> None:
        """Without overrides: tick 10 ms, election 15 ticks, heartbeat 3, fsync always."""
        settings = load_settings(BASE, env={})

        assert (10, 15, 3, SyncMode.ALWAYS) == (
            settings.tick_ms,
            settings.election_tick,
            settings.heartbeat_tick,
            settings.sync,
        )

    def test_flags_beat_env_beat_toml(self, tmp_path: Path) -> None:
        """A flag overrides the environment, which overrides the TOML file."""
        toml = tmp_path / "node.toml"
        toml.write_text("[node]\ntick-ms = 50\nelection_tick = 30\nheartbeat_tick = 5\n")
        env = {"CHAOSLAB_TICK_MS": "20", "CHAOSLAB_ELECTION_TICK": "20"}
        settings = load_settings({**BASE, "election_tick": 25}, config_file=toml, env=env)

        assert (20, 25, 5) == (settings.tick_ms, settings.election_tick, settings.heartbeat_tick)

    def test_env_alone_configures_a_node(self) -> None:
        """Every setting can come from CHAOSLAB_* variables."""
        env = {
            "CHAOSLAB_ID": "3",
            "CHAOSLAB_LISTEN": "0.0.0.0:7000",
            "CHAOSLAB_PEER_LISTEN": "0.0.0.0:7100",
            "CHAOSLAB_PEERS": "1=n1:7100,2=n2:7100",
            "CHAOSLAB_PEER_SECRET_FILE": "/secrets/peer.secret",
            "CHAOSLAB_CLUSTER_ID": "compose-1",
            "CHAOSLAB_DATA_DIR": "/data",
            "CHAOSLAB_CLIENT_ADDRESSES": "1=t:20001,2=t:20002,3=t:20003",
        }
        settings = load_settings({}, env=env)

        assert ((1, 2, 3), "t:20002", "t:20003", "compose-1", "0.0.0.0:7100") == (
            settings.voters,
            settings.client_address(2),
            settings.client_address(3),
            settings.cluster_id,
            settings.peer_listen,
        )

    def test_client_address_is_never_a_peer_address(self) -> None:
        """Without --client-addresses a redirect carries our own listener for ourselves and
        nothing for a peer (its peer address is not for clients)."""
        settings = NodeSettings.model_validate(BASE)

        assert ("", "127.0.0.1:7001") == (settings.client_address(2), settings.client_address(1))

    def test_spool_dir_defaults_next_to_the_data(self) -> None:
        """Incoming snapshots go to DATA_DIR.incoming, a sibling of the data directory."""
        settings = NodeSettings.model_validate(BASE)

        assert Path("/tmp/n1.incoming") == settings.snapshot_spool_dir

    @pytest.mark.parametrize(
        ("override", "field"),
        [
            ({"listen": "nowhere"}, "listen (from flags)"),
            ({"peers": "1=127.0.0.1:7009"}, "own id 1"),
            ({"heartbeat_tick": 20}, "heartbeat_tick (20) must be below"),
            ({"sync": "sometimes"}, "sync (from flags)"),
            ({"id": 0}, "id (from flags)"),
            ({"peer_listen": None}, "peer-listen: required when the node has peers"),
            ({"peer_secret_file": None}, "peer-secret-file: required when the node has peers"),
            ({"peer_listen": "127.0.0.1:7001"}, "is also --listen"),
            ({"cluster_id": "two words"}, "cluster-id (from flags)"),
            ({"peer_tls_cert": "/c.pem"}, "give all three or none"),
        ],
    )
    def test_errors_name_the_field(self, override: dict[str, object], field: str) -> None:
        """An invalid value raises SettingsError naming the field (and its source)."""
        with pytest.raises(SettingsError) as caught:
            load_settings({**BASE, **override}, env={})

        assert field in str(caught.value)

    def test_missing_required_fields_are_named(self) -> None:
        """Missing --listen / --data-dir are named, with their flag spelling."""
        with pytest.raises(SettingsError) as caught:
            load_settings({"id": 1}, env={})

        assert all(name in str(caught.value) for name in ("listen", "data-dir"))

    def test_bad_toml_is_named(self, tmp_path: Path) -> None:
        """A TOML file that does not parse is refused naming the file."""
        toml = tmp_path / "bad.toml"
        toml.write_text("tick_ms = = 3")

        with pytest.raises(SettingsError, match=r"bad\.toml: not valid TOML"):
            load_settings(BASE, config_file=toml, env={})
