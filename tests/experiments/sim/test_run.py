"""The simulator runs the real node code deterministically and catches seeded bugs."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from experiments.checkers import check_linearizable
from experiments.history import format_history, parse_history
from experiments.schedule import NemesisKind, generate
from experiments.sim.bugs import BUGS
from experiments.sim.cluster import NodeVariant, SimTiming
from experiments.sim.run import (
    ALL_NEMESES,
    DEFAULT_MIX_COMPOSE,
    DEFAULT_WEIGHTS,
    SimSpec,
    run_seed,
    schedule_of,
)
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
        spec = replace(SHORT, nemeses=(kind,), weights=None)
        for seed in (1, 2):
            result = run_seed(spec, seed)

            assert result.schedule.faults, f"seed {seed}: the schedule injected no fault"
            assert result.linearizable.valid is True, f"seed {seed}: {result.linearizable.lines}"
            assert result.live, f"seed {seed}: no recovery (recovery_s={result.recovery_s})"
            assert not result.boot_failures, f"seed {seed}: {result.boot_failures}"
            assert not result.invariants, f"seed {seed}: {result.invariants}"
            assert not result.runaway, f"seed {seed}: {result.stats['events']} events"

    def test_snapshots_under_a_restart_storm(self) -> None:
        """With frequent snapshots, crashes land in the middle of snapshot writes too,
        and the cluster still recovers correct and live."""
        spec = replace(
            SHORT, nemeses=(NemesisKind.RESTARTS,), weights=None, timing=SimTiming(snapshot_every=5)
        )
        for seed in (4, 5, 6):
            result = run_seed(spec, seed)

            assert result.ok, f"seed {seed}: {result.invariants} {result.linearizable.lines}"
            assert result.stats["snapshots_taken"] > 0

    def test_history_round_trips_through_the_reader(self) -> None:
        """The recorded history is valid history-format text that the checker accepts."""
        result = run_seed(SHORT, 3)

        ops = parse_history(format_history(result.history).splitlines(), source="sim")

        assert len(result.history) == len(ops)
        assert check_linearizable(ops).valid is True
        assert any(op.process == "nemesis" for op in ops)
        assert result.stats["ok"] > 100


FIRST_CATCH = {"no-session-dedupe": 6, "votes-not-persisted": 21}
"""The first of seeds 1..25 that caught these bugs (the others: seed 1), measured 2026-12-01."""


class TestSeededBugs:
    @pytest.mark.parametrize("bug", sorted(BUGS))
    def test_bug_is_caught_within_a_few_seeds(self, bug: str) -> None:
        """The checkers catch every seeded bug within the first 25 seeds (the seed that
        first caught it when this was written is tried first, so a pass costs one run;
        ``chaoslab bench bugs`` measures seeds-to-catch)."""
        spec = replace(
            SHORT,
            duration_s=20.0,
            bug=bug,
            nemeses=BUGS[bug].nemeses,
            weights=None,
            compose=BUGS[bug].compose,
        )

        first = FIRST_CATCH.get(bug, 1)
        seeds = [first, *(seed for seed in range(1, 26) if seed != first)]
        caught = next((seed for seed in seeds if not run_seed(spec, seed).ok), None)

        assert caught is not None, f"{bug} survived seeds 1..25"

    def test_skipping_the_leader_noop_alone_is_safe(self) -> None:
        """Control for commit-prior-term: without its commit-rule half, a leader that
        appends no empty entry (the paper's basic algorithm) stays correct under the
        very faults that expose the bug."""
        variant = NodeVariant(config_overrides={"unsafe_skip_leader_noop": True})
        bug = BUGS["commit-prior-term"]
        spec = replace(
            SHORT, duration_s=20.0, nemeses=bug.nemeses, weights=None, compose=bug.compose
        )

        for seed in (1, 2, 3):
            result = run_seed(spec, seed, variant=variant)

            assert result.ok, f"seed {seed}: {result.invariants} {result.linearizable.lines}"

    @pytest.mark.slow
    @pytest.mark.parametrize("bug", sorted(BUGS))
    def test_default_mix_catches_every_bug_without_hints(self, bug: str) -> None:
        """The default mix, which knows nothing of the bug it hunts, catches every seeded
        bug within the first 40 seeds (``chaoslab sim --bug NAME --nemesis all``)."""
        spec = replace(SHORT, duration_s=20.0, recovery_s=5.0, bug=bug)

        caught = next((seed for seed in range(1, 41) if not run_seed(spec, seed).ok), None)

        assert caught is not None, f"{bug} survived seeds 1..40 of the default mix"

    def test_unknown_bug_is_rejected(self) -> None:
        """Naming a bug that does not exist is bad input, with the known names listed."""
        with pytest.raises(ValueError, match="no-session-dedupe"):
            replace(SHORT, bug="no-such-bug")


class TestSpec:
    def test_defaults_are_the_default_mix(self) -> None:
        """A spec's defaults are ``chaoslab sim``'s: every nemesis, weighted, 80% composed."""
        spec = SimSpec()

        assert (ALL_NEMESES, DEFAULT_WEIGHTS, DEFAULT_MIX_COMPOSE) == (
            spec.nemeses, spec.weights, spec.compose
        )

    def test_weights_must_match_the_nemeses(self) -> None:
        """New nemeses with the default weights are bad input, and the error says how to
        draw them equally often."""
        with pytest.raises(ValueError, match=r"one per nemesis \(1\), got 12.*weights=None"):
            replace(SHORT, nemeses=(NemesisKind.KILL,))

    def test_bad_weight_is_rejected_naming_the_kind(self) -> None:
        """A negative weight is refused when the spec is made, naming its kind."""
        with pytest.raises(ValueError, match="pause"):
            replace(SHORT, nemeses=(NemesisKind.KILL, NemesisKind.PAUSE), weights=(1.0, -1.0))

    def test_unweighted_schedule_is_the_plain_draw(self) -> None:
        """Without weights a seed's schedule is ``generate``'s uniform draw, as it always was."""
        spec = replace(SHORT, weights=None, compose=0.25)

        expected = generate(
            random.Random("5:schedule"), ALL_NEMESES, duration_s=14.0, recovery_s=6.0,
            compose=0.25,
        )

        assert expected == schedule_of(spec, 5)
