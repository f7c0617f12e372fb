"""``Config`` validates itself in one place and names the field at fault."""

from __future__ import annotations

import pytest

from nodes.raft import Config, ConfigError


class TestConfig:
    def test_defaults_are_valid(self) -> None:
        """A config with only id and voters is valid and has a majority quorum."""
        cfg = Config(id=1, voters=(1, 2, 3))

        assert 2 == cfg.quorum

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"id": 0, "voters": (0, 1)}, "id"),
            ({"voters": (1, -2)}, "voters"),
            ({"voters": (1, 2, 2)}, "voters"),
            ({"voters": (2, 3)}, "voters"),
            ({"election_tick": 1, "heartbeat_tick": 1}, "election_tick"),
            ({"heartbeat_tick": 0}, "heartbeat_tick"),
            ({"heartbeat_tick": 10}, "heartbeat_tick"),
            ({"max_entries_per_msg": 0}, "max_entries_per_msg"),
            ({"max_bytes_per_msg": 0}, "max_bytes_per_msg"),
            ({"max_inflight_msgs": 0}, "max_inflight_msgs"),
        ],
    )
    def test_bad_field_is_named(self, fields: dict[str, object], field: str) -> None:
        """Each invalid field raises ConfigError whose ``field`` and message name it."""
        kwargs: dict[str, object] = {"id": 1, "voters": (1, 2, 3), **fields}
        with pytest.raises(ConfigError) as info:
            Config(**kwargs)  # type: ignore[arg-type]

        assert (field, True) == (info.value.field, field in str(info.value))

    def test_unsafe_flags_default_off(self) -> None:
        """The seeded bugs are off unless asked for."""
        cfg = Config(id=1, voters=(1,))

        assert (False, False) == (
            cfg.unsafe_commit_prior_term_by_count,
            cfg.unsafe_leader_read_without_quorum,
        )
