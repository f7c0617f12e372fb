"""The simulator runs the real node code deterministically and catches seeded bugs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from experiments.checkers import check_linearizable
from experiments.history import format_history, parse_history
from experiments.schedule import NemesisKind
from experiments.sim.bugs import BUGS
from experiments.sim.run import SimSpec, run_seed
from experiments.workload import WorkloadSpec

SHORT = SimSpec(
    nodes=5,
    duration_s=14.0,
    recovery_s=6.0,
    liveness_bound_s=5.0,
    workload=WorkloadSpec(think_ms=40.0),
)


class TestDeterminism:
    def test_same_seed_same_bytes(self) -> None:
        """Two runs of one seed give byte-identical histories."""
        first = run_seed(SHORT, 7)
        second = run_seed(SHORT, 7)

        assert format_history(first.history) == format_history(second.history)

    def test_other_seed_other_history(self) -> None:
        """Different seeds explore different histories."""
        assert format_history(run_seed(SHORT, 1).history) != format_history(
            run_seed(SHORT, 2).history
        )


class TestCorrectNode:
    @pytest.mark.parametrize("kind", list(NemesisKind), ids=lambda k: k.value)
    def test_each_nemesis_keeps_the_store_linearizable_and_live(self, kind: NemesisKind) -> None:
        """Under every single fault kind the production node stays linearizable and recovers."""
        spec = replace(SHORT, nemeses=(kind,))
        for seed in (1, 2):
            result = run_seed(spec, seed)

            assert result.schedule.faults, f"seed {seed}: the schedule injected no fault"
            assert result.linearizable.valid is True, f"seed {seed}: {result.linearizable.lines}"
            assert result.live, f"seed {seed}: no recovery (recovery_s={result.recovery_s})"
            assert not result.boot_failures, f"seed {seed}: {result.boot_failures}"

    def test_history_round_trips_through_the_reader(self) -> None:
        """The recorded history is valid history-format text that the checker accepts."""
        result = run_seed(SHORT, 3)

        ops = parse_history(format_history(result.history).splitlines(), source="sim")

        assert len(result.history) == len(ops)
        assert check_linearizable(ops).valid is True
        assert any(op.process == "nemesis" for op in ops)
        assert result.stats["ok"] > 100


class TestSeededBugs:
    @pytest.mark.parametrize(
        "bug", ["leader-reads-without-readindex", "no-session-dedupe", "unsynced-storage"]
    )
    def test_bug_is_caught_within_a_few_seeds(self, bug: str) -> None:
        """The checkers catch these seeded bugs within the first 25 seeds."""
        spec = replace(SHORT, duration_s=20.0, bug=bug, nemeses=BUGS[bug].nemeses)

        caught = next((seed for seed in range(1, 26) if not run_seed(spec, seed).ok), None)

        assert caught is not None, f"{bug} survived seeds 1..25"

    def test_unknown_bug_is_rejected(self) -> None:
        """Naming a bug that does not exist is bad input, with the known names listed."""
        with pytest.raises(ValueError, match="no-session-dedupe"):
            replace(SHORT, bug="no-such-bug")
