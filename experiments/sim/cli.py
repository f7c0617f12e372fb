"""``chaoslab sim``: sweep seeds of the deterministic simulator.

Rules: parsing and printing only; the work is ``experiments.sim.sweep``.
Exit 0 when every seed's history is linearizable and the cluster recovered,
1 when some seed failed (with a one-line command that reproduces it), 2 on
bad input.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from experiments import logs
from experiments.schedule import NemesisKind
from experiments.seeds import seed_range
from experiments.sim.bugs import BUGS
from experiments.sim.run import (
    ALL_NEMESES,
    DEFAULT_COMPOSE,
    DEFAULT_MIX_COMPOSE,
    DEFAULT_WEIGHTS,
    SimSpec,
)
from experiments.sim.sweep import SeedOutcome, default_jobs, sweep
from experiments.workload import WorkloadSpec

SIM_THINK_MS = 40.0
"""Mean think time of a simulated client: about 125 operations per simulated second."""


def parse_seeds(text: str) -> list[int]:
    """``"7"`` or ``"1..100"`` (inclusive) to a list of seeds.

    Raises:
        click.BadParameter: anything else, or an empty range.
    """
    try:
        seeds = seed_range(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return list(seeds)


def parse_nemeses(names: tuple[str, ...], bug: str | None) -> tuple[NemesisKind, ...]:
    """Nemesis names (comma-separated or repeated; ``all``, ``none``) to kinds.

    Without names: the bug's own nemeses, or all of them.
    """
    words = [w.strip() for name in names for w in name.split(",") if w.strip()]
    if not words:
        return BUGS[bug].nemeses if bug else ALL_NEMESES
    if words == ["none"]:
        return ()
    if "all" in words:
        return ALL_NEMESES
    known = {k.value: k for k in ALL_NEMESES}
    unknown = [w for w in words if w not in known]
    if unknown:
        msg = f"unknown nemesis {unknown[0]!r}; known: all, none, {', '.join(known)}"
        raise click.BadParameter(msg, param_hint="--nemesis")
    return tuple(known[w] for w in dict.fromkeys(words))


def parse_weights(names: tuple[str, ...], bug: str | None) -> tuple[float, ...] | None:
    """The default mix's weights (``DEFAULT_WEIGHTS``) when the nemeses are ``all``,
    named or by default without a bug; None (each named kind equally often) otherwise."""
    words = [w.strip() for name in names for w in name.split(",") if w.strip()]
    if "all" in words or (not words and bug is None):
        return DEFAULT_WEIGHTS
    return None


def reproduce_command(spec: SimSpec, seed: int) -> str:
    """The one-line command that runs exactly this seed again."""
    words = ["chaoslab", "sim", "--seeds", str(seed), "--nodes", str(spec.nodes)]
    words += ["--duration", f"{spec.duration_s:g}", "--recovery", f"{spec.recovery_s:g}"]
    if spec.nemeses == ALL_NEMESES and spec.weights == DEFAULT_WEIGHTS:
        words += ["--nemesis", "all"]
    elif spec.weights is None:
        words += ["--nemesis", ",".join(k.value for k in spec.nemeses) or "none"]
    else:
        msg = "only the default mix's weights can be written on the command line"
        raise ValueError(msg)
    words += ["--compose", f"{spec.compose:g}"]
    if spec.bug:
        words += ["--bug", spec.bug]
    return shlex.join(words)


@click.command()
@click.option("--nodes", type=click.IntRange(1, 9), default=5, show_default=True)
@click.option("--seeds", "seeds_text", default="1..20", show_default=True, help="N or A..B.")
@click.option(
    "--nemesis",
    "nemeses",
    multiple=True,
    help="Faults to draw from (comma-separated or repeated; all, none). "
    "Default: all, or the bug's own. 'all' is the default mix: every fault, the aimed "
    "ones (restarts, partition-leader-rolling, leader-churn) and latency drawn more often; "
    "named faults are drawn equally often.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=10.0, max=3600.0),
    default=30.0,
    show_default=True,
    help="Simulated seconds per seed (ending with the quiet recovery tail).",
)
@click.option(
    "--recovery",
    type=click.FloatRange(min=5.0, max=600.0),
    default=8.0,
    show_default=True,
    help="The quiet tail after the last fault, in simulated seconds; a write must "
    "succeed within 5 s of the heal.",
)
@click.option(
    "--compose",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help=f"Probability that a fault window pairs two faults of different categories "
    f"(e.g. restarts under latency). Default: {DEFAULT_MIX_COMPOSE:g} with the default mix, "
    f"{DEFAULT_COMPOSE:g} for named faults, or the bug's own.",
)
@click.option("--bug", type=click.Choice(sorted(BUGS)), default=None, help="A seeded bug.")
@click.option("--list-bugs", is_flag=True, help="List the seeded bugs and exit.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/sim"),
    show_default=True,
    help="Where failing seeds' histories are saved.",
)
@click.option("--save-all", is_flag=True, help="Save every seed's history, not just failures.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per seed per line.")
@click.pass_context
def sim(
    ctx: click.Context,
    nodes: int,
    seeds_text: str,
    nemeses: tuple[str, ...],
    duration: float,
    recovery: float,
    compose: float | None,
    bug: str | None,
    list_bugs: bool,
    jobs: int | None,
    out: Path,
    save_all: bool,
    as_json: bool,
) -> None:
    """Run the real Raft core and KV store under seeded faults; check every history."""
    settings = ctx.obj or {}
    if settings.get("log_level", "info") != "debug":
        # Thousands of simulated elections, crashes and torn tails would drown the
        # summary: errors only.
        logs.configure(settings.get("log_format", "auto"), "error")
    console = Console(stderr=as_json)
    if list_bugs:
        _print_bugs(console)
        return
    seeds = parse_seeds(seeds_text)
    kinds = parse_nemeses(nemeses, bug)
    weights = parse_weights(nemeses, bug)
    if compose is None:
        if weights is not None:
            compose = DEFAULT_MIX_COMPOSE
        else:
            compose = BUGS[bug].compose if bug else DEFAULT_COMPOSE
    if recovery >= duration:
        msg = f"the recovery tail ({recovery:g} s) must be shorter than the run ({duration:g} s)"
        raise click.BadParameter(msg, param_hint="--recovery")
    spec = SimSpec(
        nodes=nodes,
        duration_s=duration,
        recovery_s=recovery,
        nemeses=kinds,
        weights=weights,
        compose=compose,
        bug=bug,
        workload=WorkloadSpec(think_ms=SIM_THINK_MS),
    )
    outcomes = _run(spec, seeds, jobs or default_jobs(), out, save_all, as_json, console)
    failed = [o for o in outcomes if not o.ok]
    if not as_json:
        _print_summary(console, spec, outcomes, failed)
    raise SystemExit(1 if failed else 0)


def _run(
    spec: SimSpec,
    seeds: list[int],
    jobs: int,
    out: Path,
    save_all: bool,
    as_json: bool,
    console: Console,
) -> list[SeedOutcome]:
    columns = (
        TextColumn("[bold]sim[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("seeds", total=len(seeds), failed=0)
        failures = 0

        def done(outcome: SeedOutcome) -> None:
            nonlocal failures
            failures += not outcome.ok
            progress.update(task, advance=1, failed=failures)
            if as_json:
                click.echo(json.dumps(_outcome_json(outcome)))

        return sweep(spec, seeds, jobs=jobs, out_dir=out, save_all=save_all, on_done=done)


def _outcome_json(outcome: SeedOutcome) -> dict[str, object]:
    return {
        "seed": outcome.seed,
        "ok": outcome.ok,
        "valid": outcome.valid,
        "live": outcome.live,
        "invariants": list(outcome.invariants),
        "runaway": outcome.runaway,
        "recovery_s": outcome.recovery_s,
        "wall_s": round(outcome.wall_s, 3),
        "saved": outcome.saved,
        "stats": outcome.stats,
    }


def _print_bugs(console: Console) -> None:
    table = Table(title="Seeded bugs (chaoslab sim --bug NAME)")
    table.add_column("name", style="bold")
    table.add_column("what is broken")
    table.add_column("default nemeses")
    for bug in BUGS.values():
        nemeses = ", ".join(k.value for k in bug.nemeses)
        if bug.compose:
            nemeses += f" (composed, p={bug.compose:g})"
        table.add_row(bug.name, bug.description, nemeses)
    console.print(table)


def _print_summary(
    console: Console, spec: SimSpec, outcomes: list[SeedOutcome], failed: list[SeedOutcome]
) -> None:
    ops = sum(int(o.stats["operations"]) for o in outcomes)
    wall = sum(o.wall_s for o in outcomes)
    simulated = spec.duration_s * len(outcomes)
    speed = simulated / wall if wall else 0.0
    label = f" with seeded bug {spec.bug!r}" if spec.bug else ""
    console.print(
        f"{len(outcomes)} seeds{label}: {len(outcomes) - len(failed)} ok, {len(failed)} failed; "
        f"{ops} operations; {speed:.0f}x real time per worker"
    )
    for outcome in failed[:10]:
        why = [] if outcome.valid is True else [f"linearizable={outcome.valid}"]
        if outcome.runaway:
            why.append(f"runaway: stopped after {outcome.stats['events']} events")
        elif not outcome.live:
            why.append("no recovery within the bound")
        if outcome.stats.get("boot_failures"):
            why.append(f"{outcome.stats['boot_failures']} node restart(s) refused by storage")
        if outcome.invariants:
            why.append(f"{outcome.stats['invariant_violations']} Raft safety violation(s)")
        console.print(f"[red]seed {outcome.seed} failed[/] ({'; '.join(why)}): {outcome.summary}")
        for violation in outcome.invariants[:3]:
            console.print(f"  inside: {violation}", soft_wrap=True)
        if outcome.saved:
            console.print(f"  history: {outcome.saved}/history.jsonl")
        console.print(f"  reproduce: {reproduce_command(spec, outcome.seed)}", soft_wrap=True)
    if len(failed) > 10:
        console.print(f"... and {len(failed) - 10} more failed seeds")
