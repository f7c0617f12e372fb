"""``chaoslab bench sim``: how fast the simulator runs and how soon it catches each seeded bug.

Rules: measurement only, bounded in seeds and time; prints a rich table and,
with ``--json``, one JSON document. Three figures:

- speed: simulated seconds per wall second (and per CPU second) of one worker
  (5 nodes, the default mix);
- sweep: the wall time of an N-seed sweep over every core;
- detection: for each seeded bug and each of two fault mixes, the first seed (counting
  from 1) whose run fails, the first whose history fails, and which checks failed. The
  mixes: ``default`` (what ``chaoslab sim --bug NAME --nemesis all`` runs: a user hunting
  an unknown bug) and ``own`` (the bug's own faults, ``chaoslab sim --bug NAME``).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from experiments import logs
from experiments.sim.bugs import BUGS
from experiments.sim.run import SimSpec
from experiments.sim.sweep import SeedOutcome, default_jobs, run_one, sweep
from experiments.workload import WorkloadSpec

THINK_MS = 40.0
"""The same client pace as ``chaoslab sim``."""
MIXES = ("default", "own")
"""The fault mixes detection is measured with (see the module docstring)."""
CHECKS = ("history", "invariants", "restarts", "liveness", "runaway")
"""The checks a seed can fail, in the order they are named."""


def _spec(
    duration_s: float, nodes: int, bug: str | None = None, *, mix: str = "default",
    recovery_s: float = 8.0,
) -> SimSpec:
    spec = SimSpec(
        nodes=nodes, duration_s=duration_s, recovery_s=recovery_s,
        workload=WorkloadSpec(think_ms=THINK_MS),
    )
    if bug is not None:
        spec = replace(spec, bug=bug)
    if bug is not None and mix == "own":
        own = BUGS[bug]
        spec = replace(spec, nemeses=own.nemeses, weights=None, compose=own.compose)
    return spec


def failed_checks(outcome: SeedOutcome) -> list[str]:
    """Which checks a seed failed (``CHECKS``; empty when it passed): the history
    checker, Raft's invariants inside the nodes, a restart that storage refused, no
    recovery within the bound after the heal, or a runaway."""
    failed = {
        "history": outcome.valid is not True,
        "invariants": bool(outcome.invariants),
        "restarts": bool(outcome.stats.get("boot_failures")),
        "liveness": not outcome.live and not outcome.runaway,
        "runaway": outcome.runaway,
    }
    return [check for check in CHECKS if failed[check]]


def measure_speed(
    seeds: int, duration_s: float, nodes: int, recovery_s: float = 8.0
) -> dict[str, Any]:
    """Run ``seeds`` seeds one after another in this process."""
    spec = _spec(duration_s, nodes, recovery_s=recovery_s)
    wall = 0.0
    ops = 0
    cpu_started = time.process_time()
    for seed in range(1, seeds + 1):
        outcome = run_one(spec, seed, None, save_all=False)
        wall += outcome.wall_s
        ops += int(outcome.stats["operations"])
    cpu = time.process_time() - cpu_started
    simulated = duration_s * seeds
    return {
        "seeds": seeds,
        "nodes": nodes,
        "simulated_s": simulated,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "speedup": round(simulated / wall, 1),
        "speedup_cpu": round(simulated / cpu, 1),
        "operations": ops,
    }


def measure_sweep(
    seeds: int, duration_s: float, nodes: int, jobs: int, recovery_s: float = 8.0
) -> dict[str, Any]:
    """An N-seed sweep over ``jobs`` worker processes."""
    spec = _spec(duration_s, nodes, recovery_s=recovery_s)
    started = time.perf_counter()
    outcomes = sweep(spec, list(range(1, seeds + 1)), jobs=jobs)
    wall = time.perf_counter() - started
    return {
        "seeds": seeds,
        "duration_s": duration_s,
        "jobs": jobs,
        "wall_s": round(wall, 1),
        "failed": [o.seed for o in outcomes if not o.ok],
    }


def measure_detection(
    max_seeds: int, duration_s: float, nodes: int, jobs: int, *, recovery_s: float = 8.0,
    mixes: tuple[str, ...] = MIXES, every_seed: bool = False,
) -> list[dict[str, Any]]:
    """For each bug and mix, sweep seeds from 1 in chunks until a seed fails every way
    that counts (or ``max_seeds`` ran; with ``every_seed``, always ``max_seeds``, so the
    counts are rates).

    ``first_failing_seed``: the first seed the simulator fails by any check, and
    ``first_checks`` the checks it failed; ``first_history_seed``: the first whose history
    alone the linearizability checker rejects (what a black-box test sees).
    ``failing_seeds`` counts failures among the seeds that ran (``of``), and ``by_check``
    how many of them failed each check.
    """
    rows = []
    chunk = max(8, 4 * jobs)
    for name in BUGS:
        for mix in mixes:
            spec = _spec(duration_s, nodes, name, mix=mix, recovery_s=recovery_s)
            started = time.perf_counter()
            outcomes: list[SeedOutcome] = []
            first: SeedOutcome | None = None
            first_history: SeedOutcome | None = None
            while len(outcomes) < max_seeds and (
                every_seed or first is None or first_history is None
            ):
                ran = len(outcomes)
                seeds = list(range(ran + 1, min(ran + chunk, max_seeds) + 1))
                outcomes += sweep(spec, seeds, jobs=jobs)
                first = next((o for o in outcomes if not o.ok), None)
                first_history = next((o for o in outcomes if o.valid is not True), None)
            checks = [failed_checks(o) for o in outcomes]
            rows.append(
                {
                    "bug": name,
                    "mix": mix,
                    "first_failing_seed": None if first is None else first.seed,
                    "first_checks": [] if first is None else failed_checks(first),
                    "first_history_seed": None if first_history is None else first_history.seed,
                    "failing_seeds": sum(1 for o in outcomes if not o.ok),
                    "history_failing_seeds": sum(1 for o in outcomes if o.valid is not True),
                    "by_check": {c: sum(c in failed for failed in checks) for c in CHECKS},
                    "of": len(outcomes),
                    "wall_s": round(time.perf_counter() - started, 1),
                }
            )
    return rows


@click.command("sim")
@click.option("--speed-seeds", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--sweep-seeds", type=click.IntRange(0, 100_000), default=0, show_default=True,
              help="Also time a sweep of this many seeds (0: skip).")
@click.option("--detect-seeds", type=click.IntRange(0, 1000), default=100, show_default=True,
              help="Seeds per seeded bug (0: skip).")
@click.option("--detect-mix", "detect_mixes", type=click.Choice(MIXES), multiple=True,
              help="Fault mixes to measure detection with (repeatable). Default: both.")
@click.option("--detect-every-seed", is_flag=True,
              help="Run every --detect-seeds seed, not just up to the first failures, so the "
              "counts are rates.")
@click.option("--duration", type=click.FloatRange(10, 600), default=30.0, show_default=True)
@click.option("--recovery", type=click.FloatRange(5, 600), default=8.0, show_default=True,
              help="The quiet tail after the last fault (as chaoslab sim --recovery).")
@click.option("--nodes", type=click.IntRange(1, 9), default=5, show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sim_bench(
    ctx: click.Context,
    speed_seeds: int,
    sweep_seeds: int,
    detect_seeds: int,
    detect_mixes: tuple[str, ...],
    detect_every_seed: bool,
    duration: float,
    recovery: float,
    nodes: int,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Simulator speed, sweep wall time and seeds-to-detection of each seeded bug."""
    if recovery >= duration:
        msg = f"the recovery tail ({recovery:g} s) must be shorter than the run ({duration:g} s)"
        raise click.BadParameter(msg, param_hint="--recovery")
    settings = ctx.obj or {}
    logs.configure(settings.get("log_format", "auto"), "error")
    workers = jobs or default_jobs()
    results: dict[str, Any] = {"speed": measure_speed(speed_seeds, duration, nodes, recovery)}
    if sweep_seeds:
        results["sweep"] = measure_sweep(sweep_seeds, duration, nodes, workers, recovery)
    if detect_seeds:
        results["detection"] = measure_detection(
            detect_seeds, duration, nodes, workers, recovery_s=recovery,
            mixes=tuple(dict.fromkeys(detect_mixes)) or MIXES, every_seed=detect_every_seed,
        )
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    _print(Console(), results)


def _print(console: Console, results: dict[str, Any]) -> None:
    speed = results["speed"]
    console.print(
        f"speed: {speed['speedup']}x real time ({speed['simulated_s']:g} simulated s in "
        f"{speed['wall_s']} s, {speed['nodes']} nodes, {speed['operations']} operations, "
        f"one worker; {speed['speedup_cpu']}x per CPU second, which a busy machine "
        "disturbs less)"
    )
    if "sweep" in results:
        sw = results["sweep"]
        console.print(
            f"sweep: {sw['seeds']} seeds x {sw['duration_s']:g} s in {sw['wall_s']} s wall "
            f"with {sw['jobs']} workers; failed seeds: {sw['failed'] or 'none'}"
        )
    if "detection" in results:
        console.print(_detection_table(results["detection"]))


def _detection_table(rows: list[dict[str, Any]]) -> Table:
    """One line per bug; for each mix its first failing seed (with the checks it failed),
    first history-rejected seed, and failing / history-rejected / seeds run."""
    mixes = list(dict.fromkeys(row["mix"] for row in rows))
    table = Table(title="Seeds to detection")
    table.add_column("bug")
    for mix in mixes:
        table.add_column(f"{mix} mix: first failing seed (checks)")
        table.add_column(f"{mix} mix: first history-rejected seed")
        table.add_column(f"{mix} mix: failing / history-rejected / run")
    by_bug: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_bug.setdefault(row["bug"], {})[row["mix"]] = row
    for bug, found in by_bug.items():
        cells = [bug]
        for mix in mixes:
            if mix not in found:
                cells += ["", "", ""]
                continue
            row = found[mix]
            first = row["first_failing_seed"]
            history = row["first_history_seed"]
            none = f"none in {row['of']}"
            cells += [
                none if first is None else f"{first} ({', '.join(row['first_checks'])})",
                none if history is None else str(history),
                f"{row['failing_seeds']} / {row['history_failing_seeds']} / {row['of']}",
            ]
        table.add_row(*cells)
    return table
