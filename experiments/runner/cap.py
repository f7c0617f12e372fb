"""``chaoslab cap EXPERIMENT.yaml [--modes cp,lease,stale,ap] [--backend sim|local|docker]
[--seed N | --seeds A..B]``: the same experiment once per consistency mode (same seeds,
same fault schedule) and the CAP scorecard of each, side by side.

Rules: orchestration and printing only; each run is an ordinary ``run_experiment`` (its
results.json holds its own ``scorecard``) and the table is ``scorecard.aggregate`` of each
mode's runs. A mode's runs are named ``<experiment>-<mode>`` (their run directories and
resolved experiment.yaml replay that mode). Every mode is checked against the backend
before anything starts (exit 2 naming what cannot run). The experiment's expectations are
written for its own mode (``cluster.consistency``, cp by default): the exit code is 1
when a run of that mode failed them, 3 when some run's verdict is unknown for another
reason than its expectations (a fault with no observable effect, a run broken off) and
none failed, else 0; the unsafe modes are expected to fail linearizability and are
reported, not failed. The summary is also written to ``OUT/<experiment>/cap-<time>-
<backend>.json``.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import click
from rich.console import Console
from rich.table import Table

from experiments.backends import BACKENDS, BackendOptions, refusals
from experiments.errors import BackendFailure, BadInput
from experiments.runner.api import RunOutcome, run_experiment
from experiments.runner.cli import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    parse_seeds,
    quiet_simulator_logs,
    store_override,
)
from experiments.runner.scorecard import SIDES, aggregate
from experiments.runner.sweep import default_jobs, sweep
from experiments.spec import Experiment, ExperimentError, load_experiment
from experiments.spec.model import CONSISTENCIES
from experiments.stores.load import load_store
from experiments.stores.names import DEFAULT_STORE

DEFAULT_MODES: Final = CONSISTENCIES
UNSAFE: Final = {"lease": "UNSAFE under clock faults", "stale": "UNSAFE", "ap": "UNSAFE"}
_JUDGED_ELSEWHERE: Final = frozenset({"linearizable", "lost-writes", "availability.quiet",
                                      "availability.majority", "availability.minority",
                                      "recovery", "latency.p50", "latency.p95", "latency.p99",
                                      "latency.max"})
"""Expectation checks: a mode other than the experiment's own is not judged by them."""


def parse_modes(text: str) -> tuple[str, ...]:
    """``"cp,ap"`` to ``("cp", "ap")``.

    Raises:
        click.BadParameter: an unknown or repeated mode, or none.
    """
    modes = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [m for m in modes if m not in CONSISTENCIES]
    if unknown or not modes or len(set(modes)) != len(modes):
        msg = (f"expected a comma-separated list of distinct modes among "
               f"{', '.join(CONSISTENCIES)}, got {text!r}")
        raise click.BadParameter(msg)
    return modes


def store_modes(store: str) -> tuple[str, ...]:
    """Every consistency mode ``store`` offers, in ``CONSISTENCIES`` order (all four for
    chaoslab's own node).

    Raises:
        BadInput: the store cannot be loaded.
    """
    if store == DEFAULT_STORE:
        return DEFAULT_MODES
    offered = load_store(store).consistency_modes
    return tuple(mode for mode in CONSISTENCIES if mode in offered)


def for_mode(experiment: Experiment, mode: str) -> Experiment:
    """``experiment`` on a cluster of consistency ``mode``, named ``<name>-<mode>``."""
    data = experiment.model_dump(by_alias=True, mode="json")
    data["cluster"]["consistency"] = mode
    name = f"{experiment.name}-{mode}"
    data["name"] = name if len(name) <= 80 else experiment.name
    return Experiment.model_validate(data)


def mode_problems(experiment: Experiment, modes: Sequence[str], backend: str) -> list[str]:
    """Why some mode of ``experiment`` cannot run on ``backend`` (one line each)."""
    problems = []
    for mode in modes:
        problems += [f"mode {mode}: {reason}"
                     for reason in refusals(backend, for_mode(experiment, mode))]
    return problems


def _besides_expectations(outcome: RunOutcome, valid: object) -> bool:
    """Whether a check other than the experiment's expectations has verdict ``valid`` (the
    run broke off, a fault had no observable effect, an internal check of the simulator)."""
    return any(check["valid"] == valid and check["valid"] is not True
               and check["name"] not in _JUDGED_ELSEWHERE
               for check in outcome.results.get("checks", []))


def exit_code(own_mode: str, outcomes: dict[str, list[RunOutcome]]) -> int:
    """1: a run of the experiment's own mode failed, or any run failed a check that is not
    an expectation; 3: some run is unknown for another reason and none failed; else 0."""
    every = [o for runs in outcomes.values() for o in runs]
    if any(o.verdict == "fail" for o in outcomes.get(own_mode, [])) or any(
        _besides_expectations(o, False) for o in every
    ):
        return 1
    if any(o.verdict == "unknown" for o in outcomes.get(own_mode, [])) or any(
        _besides_expectations(o, "unknown") for o in every
    ):
        return 3
    return 0


def summary(
    experiment: Experiment, backend: str, seeds: Sequence[int],
    outcomes: dict[str, list[RunOutcome]],
) -> dict[str, Any]:
    """The comparison across modes: each mode's aggregated scorecard and verdicts."""
    modes = {}
    for mode, runs in outcomes.items():
        cards = [o.results["scorecard"] for o in runs if o.results.get("scorecard")]
        modes[mode] = {
            **aggregate(cards),
            "verdicts": {v: sum(1 for o in runs if o.verdict == v)
                         for v in ("pass", "fail", "unknown")},
            "dirs": [None if o.dir is None else str(o.dir) for o in runs],
        }
    return {
        "experiment": experiment.name,
        "backend": backend,
        "seeds": list(seeds),
        "own_mode": experiment.cluster.consistency,
        "modes": modes,
    }


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(console: Console, result: dict[str, Any]) -> None:
    """The scorecard: one row per mode and side, then each mode's whole-run columns."""
    seeds = result["seeds"]
    shown = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
    table = Table(title=f"CAP scorecard: {result['experiment']} on {result['backend']}, "
                  f"{shown} (* UNSAFE mode)", title_justify="left")
    for column in ("mode", "side", "yield", "answered", "p50 ms", "p99 ms", "stale reads",
                   "worst stale", "lost writes", "lost updates"):
        table.add_column(column, justify="left" if column in ("mode", "side") else "right")
    for mode, card in result["modes"].items():
        label = f"{mode}*" if mode in UNSAFE else mode
        for number, side in enumerate(SIDES):
            row = card["sides"][side]
            if not row["invoked"]:
                continue
            stale = "-" if row["stale_rate"] is None else f"{row['stale_rate']:.1%}"
            worst = (f"{row['worst_versions']} v, {row['worst_ms'] / 1000:.2f} s"
                     if row["worst_versions"] else "0")
            table.add_row(label if number == 0 else "", side, _cell(row["yield"]),
                          f"{row['answered']}/{row['invoked']}", _cell(row["p50_ms"], 1),
                          _cell(row["p99_ms"], 1), stale, worst, str(row["lost_writes"]),
                          str(row["lost_updates"]))
        table.add_section()
    console.print(table)
    models = Table(title="whole runs", title_justify="left")
    for column in ("mode", "runs", "verdicts", "strongest model satisfied", "anomalies",
                   "converged", "convergence s, median / max"):
        models.add_column(column)
    for mode, card in result["modes"].items():
        verdicts = " ".join(f"{v} {n}" for v, n in card["verdicts"].items() if n)
        strongest = ", ".join(f"{m} x{n}" for m, n in card["strongest"].items())
        anomalies = ", ".join(f"{m} x{n}" for m, n in card["anomalies"].items()) or "none"
        times = card["convergence_s"]
        models.add_row(mode, str(card["runs"]), verdicts, strongest, anomalies,
                       f"{card['converged']}/{card['runs']}",
                       f"{_cell(times['median'])} / {_cell(times['max'])}")
    console.print(models)


def run_cap(
    experiment: Experiment,
    *,
    modes: Sequence[str],
    backend: str,
    seeds: Sequence[int],
    out: Path | None,
    source: str | None = None,
    options: BackendOptions | None = None,
    jobs: int = 1,
    check_time_limit_s: float = 60.0,
    console: Console | None = None,
) -> tuple[dict[str, Any], dict[str, list[RunOutcome]]]:
    """Run ``experiment`` once per mode and seed; returns the summary and the outcomes.

    Raises:
        BadInput: some mode cannot run on the backend (nothing was started).
    """
    problems = mode_problems(experiment, modes, backend)
    if problems:
        raise BadInput("; ".join(problems))
    outcomes: dict[str, list[RunOutcome]] = {}

    def done(outcome: RunOutcome) -> None:
        if console is not None:
            wall = outcome.results.get("wall_s", 0.0)
            console.print(f"  {outcome.experiment} seed {outcome.seed}: {outcome.verdict} "
                          f"({wall:.1f} s)", highlight=False)

    for mode in modes:
        variant = for_mode(experiment, mode)
        if console is not None:
            console.print(f"[bold]{variant.name}[/]: {len(seeds)} run(s) on {backend}")
        if backend == "sim" and len(seeds) > 1:
            runs = sweep(variant, seeds, runs_dir=out, source=source, jobs=jobs,
                         check_time_limit_s=check_time_limit_s, on_done=done)
        else:
            runs = []
            for seed in seeds:
                try:
                    runs.append(run_experiment(
                        variant, backend=backend, seed=seed, runs_dir=out, source=source,
                        options=options, check_time_limit_s=check_time_limit_s))
                except BackendFailure as exc:
                    raise BadInput(str(exc)) from exc
                done(runs[-1])
        outcomes[mode] = runs
    result = summary(experiment, backend, seeds, outcomes)
    if out is not None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = out / experiment.name / f"cap-{stamp}-{backend}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        result["file"] = str(path)
    return result, outcomes


@click.command()
@click.argument("experiment_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--modes", "modes_text", default=None,
              help="The consistency modes to compare: cp, and the UNSAFE lease, stale, ap "
              "[default: every mode the store offers: all four for chaoslab, cp,stale for "
              "etcd].")
@click.option("--backend", type=click.Choice(BACKENDS), default=None,
              help="[default: sim; local for a store other than chaoslab]")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="One seed for every mode (default: a random one, printed).")
@click.option("--seeds", "seeds_text", default=None, help="A..B: every mode over these seeds.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("runs"),
              show_default=True, help="Where run directories go.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for sim seeds (default: one per CPU).")
@click.option("--keep", is_flag=True, help="Keep a real cluster's data directory after a run.")
@click.option("--base-port", type=click.IntRange(1024, 60000), default=None,
              help="local: the nodes' port base (default: the first free block from 7100).")
@click.option("--project", default=None, help="docker: the compose project to use.")
@click.option("--store", default=None, metavar="NAME",
              help="Judge this store instead of the file's cluster.store (etcd offers cp: "
              "linearizable reads, stale: serializable reads).")
@click.option("--check-time-limit", type=click.FloatRange(min=0.1), default=60.0,
              show_default=True, help="Seconds for each consistency search per run.")
@click.pass_context
def cap(
    ctx: click.Context,
    experiment_file: Path,
    modes_text: str | None,
    backend: str | None,
    seed: int | None,
    seeds_text: str | None,
    out: Path,
    as_json: bool,
    jobs: int | None,
    keep: bool,
    base_port: int | None,
    project: str | None,
    store: str | None,
    check_time_limit: float,
) -> None:
    """The CAP scorecard: EXPERIMENT_FILE once per consistency mode, side by side
    (exit 0; 1 when the experiment's own mode failed its expectations; 3 unknown; 2 bad
    input)."""
    if seed is not None and seeds_text is not None:
        raise click.UsageError("give --seed N or --seeds A..B, not both")
    modes = parse_modes(modes_text) if modes_text is not None else None
    seeds = parse_seeds(seeds_text) if seeds_text else [
        seed if seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    ]
    try:
        experiment = load_experiment(experiment_file)
    except ExperimentError as exc:
        for line in exc.problems:
            click.echo(line, err=True)
        sys.exit(EXIT_BAD_INPUT)
    if store is not None:
        experiment = store_override(experiment, store)
    try:
        modes = modes or store_modes(experiment.cluster.store)
    except BadInput as exc:
        click.echo(f"{experiment_file}: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if backend is None:
        backend = "sim" if experiment.cluster.store == DEFAULT_STORE else "local"
    quiet_simulator_logs(ctx, backend)
    console = Console(stderr=as_json, highlight=False, width=None if sys.stdout.isatty() else 140)
    try:
        result, outcomes = run_cap(
            experiment, modes=modes, backend=backend, seeds=seeds, out=out,
            source=str(experiment_file),
            options=BackendOptions(
                keep=keep, docker_project=project,
                local={} if base_port is None else {"base_port": base_port},
            ),
            jobs=jobs or default_jobs(), check_time_limit_s=check_time_limit, console=console,
        )
    except BadInput as exc:
        click.echo(f"{experiment_file}: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: every fault was healed and the cluster stopped")
        sys.exit(EXIT_INTERRUPTED)
    if as_json:
        click.echo(json.dumps(result))
    print_table(console, result)
    if "file" in result:
        console.print(f"summary: {result['file']}", soft_wrap=True)
    sys.exit(exit_code(experiment.cluster.consistency, outcomes))
