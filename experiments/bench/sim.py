"""``chaoslab bench sim``: how fast the simulator runs and how soon it catches each seeded bug.

Rules: measurement only, bounded in seeds and time; prints a rich table and,
with ``--json``, one JSON document. Three figures:

- speed: simulated seconds per wall second (and per CPU second) of one worker
  (5 nodes, all nemeses);
- sweep: the wall time of an N-seed sweep over every core;
- detection: for each seeded bug, the first seed (counting from 1) whose run fails.
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


def _spec(duration_s: float, nodes: int, bug: str | None = None) -> SimSpec:
    spec = SimSpec(nodes=nodes, duration_s=duration_s, workload=WorkloadSpec(think_ms=THINK_MS))
    if bug is not None:
        spec = replace(spec, bug=bug, nemeses=BUGS[bug].nemeses, compose=BUGS[bug].compose)
    return spec


def measure_speed(seeds: int, duration_s: float, nodes: int) -> dict[str, Any]:
    """Run ``seeds`` seeds one after another in this process."""
    spec = _spec(duration_s, nodes)
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


def measure_sweep(seeds: int, duration_s: float, nodes: int, jobs: int) -> dict[str, Any]:
    """An N-seed sweep over ``jobs`` worker processes."""
    spec = _spec(duration_s, nodes)
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
    max_seeds: int, duration_s: float, nodes: int, jobs: int
) -> list[dict[str, Any]]:
    """For each bug, sweep seeds from 1 in chunks until a seed fails every way that
    counts (or ``max_seeds`` ran).

    ``first_failing_seed``: the first seed the simulator fails by any check (history,
    Raft invariants, liveness, runaway); ``first_history_seed``: the first whose
    history alone the linearizability checker rejects (what a black-box test sees).
    ``failing_seeds`` counts failures among the seeds that ran (``ran``).
    """
    rows = []
    chunk = max(8, 4 * jobs)
    for name in BUGS:
        spec = _spec(duration_s, nodes, name)
        started = time.perf_counter()
        outcomes: list[SeedOutcome] = []
        first_any: int | None = None
        first_history: int | None = None
        while len(outcomes) < max_seeds and (first_any is None or first_history is None):
            ran = len(outcomes)
            seeds = list(range(ran + 1, min(ran + chunk, max_seeds) + 1))
            outcomes += sweep(spec, seeds, jobs=jobs)
            failing = [o.seed for o in outcomes if not o.ok]
            history = [o.seed for o in outcomes if o.valid is not True]
            first_any = failing[0] if failing else None
            first_history = history[0] if history else None
        rows.append(
            {
                "bug": name,
                "first_failing_seed": first_any,
                "first_history_seed": first_history,
                "failing_seeds": sum(1 for o in outcomes if not o.ok),
                "history_failing_seeds": sum(1 for o in outcomes if o.valid is not True),
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
@click.option("--duration", type=click.FloatRange(10, 600), default=30.0, show_default=True)
@click.option("--nodes", type=click.IntRange(1, 9), default=5, show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sim_bench(
    ctx: click.Context,
    speed_seeds: int,
    sweep_seeds: int,
    detect_seeds: int,
    duration: float,
    nodes: int,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Simulator speed, sweep wall time and seeds-to-detection of each seeded bug."""
    settings = ctx.obj or {}
    logs.configure(settings.get("log_format", "auto"), "error")
    workers = jobs or default_jobs()
    results: dict[str, Any] = {"speed": measure_speed(speed_seeds, duration, nodes)}
    if sweep_seeds:
        results["sweep"] = measure_sweep(sweep_seeds, duration, nodes, workers)
    if detect_seeds:
        results["detection"] = measure_detection(detect_seeds, duration, nodes, workers)
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
        table = Table(title="Seeds to detection")
        columns = (
            "bug",
            "first failing seed (any check)",
            "first seed the history checker rejects",
            "failing / history-rejected / seeds run",
            "wall s",
        )
        for column in columns:
            table.add_column(column)
        for row in results["detection"]:
            first = row["first_failing_seed"]
            history = row["first_history_seed"]
            table.add_row(
                row["bug"],
                str(first) if first is not None else f"none in {row['of']}",
                str(history) if history is not None else f"none in {row['of']}",
                f"{row['failing_seeds']}/{row['history_failing_seeds']}/{row['of']}",
                str(row["wall_s"]),
            )
        console.print(table)
