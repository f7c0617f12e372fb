"""``chaoslab bench sim``: seeds to detection with the default mix and each bug's own faults."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from rich.console import Console

from experiments.bench import sim as bench
from experiments.sim.bugs import BUGS
from experiments.sim.run import ALL_NEMESES, DEFAULT_MIX_COMPOSE, DEFAULT_WEIGHTS, SimSpec
from experiments.sim.sweep import SeedOutcome


def _outcome(seed: int, *, valid: bool = True, invariants: tuple[str, ...] = (),
             live: bool = True, boot_failures: int = 0, runaway: bool = False) -> SeedOutcome:
    ok = valid and not invariants and live and not boot_failures and not runaway
    return SeedOutcome(
        seed=seed, ok=ok, valid=valid, live=live, invariants=invariants, runaway=runaway,
        summary="", recovery_s=None, wall_s=0.0, stats={"boot_failures": boot_failures},
        saved=None,
    )


class TestSpecs:
    def test_default_mix_is_what_chaoslab_sim_all_runs(self) -> None:
        """The default column sweeps every nemesis, weighted and composed as ``--nemesis all``."""
        spec = bench._spec(20.0, 5, "votes-not-persisted", mix="default", recovery_s=5.0)

        assert (ALL_NEMESES, DEFAULT_WEIGHTS, DEFAULT_MIX_COMPOSE) == (
            spec.nemeses, spec.weights, spec.compose
        )
        assert (20.0, 5.0, "votes-not-persisted") == (spec.duration_s, spec.recovery_s, spec.bug)

    def test_own_mix_is_the_bugs_own_faults_drawn_equally(self) -> None:
        """The own column sweeps the bug's nemeses, unweighted, with its composition."""
        bug = BUGS["commit-prior-term"]

        spec = bench._spec(20.0, 5, bug.name, mix="own")

        assert (bug.nemeses, None, bug.compose) == (spec.nemeses, spec.weights, spec.compose)


class TestFailedChecks:
    @pytest.mark.parametrize(
        ("outcome", "expected"),
        [
            (_outcome(1), []),
            (_outcome(1, valid=False), ["history"]),
            (_outcome(1, invariants=("election safety",)), ["invariants"]),
            (_outcome(1, boot_failures=2, live=False), ["restarts", "liveness"]),
            (_outcome(1, runaway=True, live=False), ["runaway"]),
        ],
    )
    def test_each_check_is_named(self, outcome: SeedOutcome, expected: list[str]) -> None:
        """A seed's failures are named by check, a runaway not counted twice as liveness."""
        assert expected == bench.failed_checks(outcome)


class TestMeasureDetection:
    def test_stops_at_the_first_failures_unless_every_seed(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each bug and mix sweeps until a seed fails and one's history fails; with
        ``every_seed`` all seeds run, so the counts are rates."""
        ran: list[tuple[str, str, list[int]]] = []

        def fake_sweep(spec: SimSpec, seeds: Sequence[int], *, jobs: int) -> list[SeedOutcome]:
            mix = "default" if spec.weights is not None else "own"
            ran.append((str(spec.bug), mix, list(seeds)))
            return [
                _outcome(s, invariants=("x",) if s == 3 else (), valid=s != 10) for s in seeds
            ]

        monkeypatch.setattr(bench, "sweep", fake_sweep)

        rows = bench.measure_detection(40, 20.0, 5, 1, mixes=("default",))
        every = bench.measure_detection(40, 20.0, 5, 1, mixes=("own",), every_seed=True)

        assert len(BUGS) == len(rows) == len(every)
        first: dict[str, Any] = rows[0]
        assert (3, ["invariants"], 10, 2, 1, 16) == (
            first["first_failing_seed"], first["first_checks"], first["first_history_seed"],
            first["failing_seeds"], first["history_failing_seeds"], first["of"],
        )
        assert {"history": 1, "invariants": 1} == {
            k: v for k, v in first["by_check"].items() if v
        }
        assert [40] * len(BUGS) == [row["of"] for row in every]
        assert {"own"} == {row["mix"] for row in every}

    def test_table_has_both_columns(self) -> None:
        """The printed table holds one line per bug with a column group per mix."""
        rows: list[dict[str, Any]] = [
            {"bug": "b", "mix": mix, "first_failing_seed": seed, "first_checks": ["history"],
             "first_history_seed": seed, "failing_seeds": 1, "history_failing_seeds": 1,
             "by_check": {}, "of": 9, "wall_s": 1.0}
            for mix, seed in (("default", 7), ("own", None))
        ]
        console = Console(width=400, record=True)

        console.print(bench._detection_table(rows))

        text = console.export_text()
        assert "default mix: first failing seed" in text
        assert "own mix: first failing seed" in text
        assert "7 (history)" in text
        assert "none in 9" in text
