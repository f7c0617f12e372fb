"""The ``chaoslab bench raft`` benchmark drives the core to commit every proposal it counts."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nodes.bench.raft import raft, run_bench


class TestRunBench:
    def test_counts_every_committed_entry(self) -> None:
        """Rounds of a batch commit batch x rounds entries, with a sane message count."""
        result = run_bench(batch=8, rounds=5, max_seconds=60.0)

        assert (5, 40, True) == (result.rounds, result.entries, result.messages_per_entry > 0)

    def test_batching_sends_fewer_messages_per_entry(self) -> None:
        """Batches of 64 share APP messages: far fewer messages per entry than batches of 1."""
        single = run_bench(batch=1, rounds=20, max_seconds=60.0)
        batched = run_bench(batch=64, rounds=20, max_seconds=60.0)

        assert batched.messages_per_entry * 10 < single.messages_per_entry


class TestRaftCommand:
    def test_json_has_one_object_per_batch(self) -> None:
        """``--json`` prints one object per batch size with the figures."""
        out = CliRunner().invoke(raft, ["--rounds", "3", "--batch", "2", "--batch", "4", "--json"])
        rows = [json.loads(line) for line in out.output.splitlines()]

        assert (0, [2, 4], [6, 12]) == (
            out.exit_code,
            [r["batch"] for r in rows],
            [r["entries"] for r in rows],
        )

    def test_table_output(self) -> None:
        """Without ``--json`` the figures print as a table."""
        out = CliRunner().invoke(raft, ["--rounds", "2", "--batch", "1"])

        assert (0, True) == (out.exit_code, "entries/s" in out.output)
