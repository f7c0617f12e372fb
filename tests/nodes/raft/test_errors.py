"""Raft errors share one root and say what went wrong and whose fault it is."""

from __future__ import annotations

import pytest

from nodes.raft import (
    NO_NODE,
    CompactionError,
    ConfigError,
    NotLeader,
    ProposalDropped,
    RaftError,
    RestoreError,
    UnknownNode,
)


class TestErrors:
    @pytest.mark.parametrize(
        "error",
        [
            ConfigError("voters", "bad"),
            NotLeader(2),
            ProposalDropped("transfer"),
            CompactionError(3, "not applied"),
            UnknownNode(9, "transfer_leader"),
            RestoreError("gap"),
        ],
    )
    def test_every_error_is_a_raft_error(self, error: RaftError) -> None:
        """Callers can catch every core error with ``RaftError``."""
        assert isinstance(error, RaftError)

    def test_not_leader_carries_the_hint(self) -> None:
        """NotLeader names the known leader so the client can retry there."""
        error = NotLeader(3)

        assert (3, "not the leader: try node 3") == (error.leader_hint, str(error))

    def test_not_leader_without_hint_says_so(self) -> None:
        """NotLeader without a known leader says none is known."""
        error = NotLeader(NO_NODE)

        assert "not the leader: no leader is known" == str(error)

    def test_compaction_error_names_the_index(self) -> None:
        """CompactionError names the index the caller asked for."""
        error = CompactionError(7, "beyond applied 5")

        assert (7, "cannot compact the log at index 7: beyond applied 5") == (
            error.index,
            str(error),
        )
