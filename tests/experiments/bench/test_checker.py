"""``chaoslab bench checker`` and its seeded register-history generator."""

from __future__ import annotations

import json
import random

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.bench.checker import RegisterWorkload, simulate_register
from experiments.checkers import check_linearizable
from experiments.cli import main
from experiments.history import format_history, validate_history


class TestSimulateRegister:
    @settings(max_examples=25, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), processes=st.integers(1, 12))
    def test_histories_are_well_formed_and_linearizable(self, seed: int, processes: int) -> None:
        """Generated histories pass the reader's checks and the linearizability check."""
        history = simulate_register(random.Random(seed), RegisterWorkload(
            ops=150, processes=processes, keys=3, nemesis_every=40))
        validate_history(history)

        assert True is check_linearizable(history, time_limit=60).valid

    def test_same_seed_same_history(self) -> None:
        """The generator is deterministic given its seed."""
        spec = RegisterWorkload(ops=200, processes=5, keys=2)

        assert format_history(simulate_register(random.Random(3), spec)) == format_history(
            simulate_register(random.Random(3), spec))

    def test_shape_follows_the_spec(self) -> None:
        """The spec's operation count, keys and unknown outcomes show up in the history."""
        history = simulate_register(random.Random(5), RegisterWorkload(
            ops=500, processes=10, keys=4, info_rate=0.2))
        invokes = [op for op in history if op.type == "invoke"]

        assert 500 == len(invokes)
        assert {"k0", "k1", "k2", "k3"} == {op.key for op in invokes}
        assert any(op.type == "info" for op in history)

    def test_unique_values_nodes_and_final_reads(self) -> None:
        """With unique=True no value is written twice; nodes and final reads are marked."""
        history = simulate_register(random.Random(2), RegisterWorkload(
            ops=300, processes=6, keys=2, unique=True, nodes=3, final_reads=True))
        written = [op.value if op.f == "write" else op.value[1] for op in history
                   if op.type == "invoke" and op.f in ("write", "cas")]
        finals = [op for op in history if op.extra.get("final")]

        validate_history(history)
        assert len(written) == len(set(written))
        assert {"n1", "n2", "n3"} == {op.node for op in history if op.process != "nemesis"}
        assert 3 * 2 * 2 == len(finals)


class TestBenchCommand:
    def test_json_rows(self) -> None:
        """--json prints one measurement per size and process count."""
        result = CliRunner().invoke(main, ["bench", "checker", "--ops", "200,400",
                                           "--processes", "3", "--keys", "2", "--json"])
        rows = [json.loads(line) for line in result.output.splitlines()]

        assert 0 == result.exit_code
        assert [(200, 3, True), (400, 3, True)] == [(r["ops"], r["processes"], r["valid"])
                                                    for r in rows]
        assert all(r["peak_mib"] > 0 for r in rows)

    def test_table(self) -> None:
        """Without --json the figures come as a table."""
        result = CliRunner().invoke(main, ["bench", "checker", "--ops", "100",
                                           "--processes", "2", "--no-memory"])

        assert 0 == result.exit_code
        assert "elapsed_s" in result.output

    def test_weaker_models(self) -> None:
        """--consistency times each named checker on the same (unique-value) history."""
        result = CliRunner().invoke(main, ["bench", "checker", "--ops", "200", "--processes", "3",
                                           "--consistency", "sequential,causal,session,eventual,"
                                           "staleness,strongest", "--no-memory", "--json"])
        rows = [json.loads(line) for line in result.output.splitlines()]

        assert 0 == result.exit_code
        assert [("sequential", True), ("causal", True), ("session", True), ("eventual", True),
                ("staleness", True), ("strongest", True)] == [(r["consistency"], r["valid"])
                                                               for r in rows]

    def test_unknown_checker_is_a_usage_error(self) -> None:
        """A checker name the bench does not know exits 2 and names it."""
        result = CliRunner().invoke(main, ["bench", "checker", "--consistency", "psychic"])

        assert 2 == result.exit_code
        assert "psychic" in result.output
