"""``chaoslab bench bugs``: how soon the runner flags each seeded bug on a backend.

Rules: measurement only, bounded: each bug experiment (experiments/bugs/) runs with seeds
1, 2, ... until a run fails or ``--runs`` ran; every run is a real ``chaoslab run`` with its
run directory under ``--out``. Reports, per bug, the first failing run, the checks that
failed, and the wall time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from experiments import bugs, logs
from experiments.backends import BACKENDS, refusals
from experiments.runner.api import run_experiment
from experiments.spec import load_experiment


def hunt(path: Path, backend: str, runs: int, out: Path) -> dict[str, Any]:
    """Run one bug experiment until it fails (at most ``runs`` times)."""
    experiment = load_experiment(path)
    problems = refusals(backend, experiment)
    if problems:
        return {"bug": experiment.cluster.unsafe, "backend": backend, "skipped": problems[0]}
    verdicts = []
    wall = 0.0
    caught: dict[str, Any] | None = None
    for seed in range(1, runs + 1):
        outcome = run_experiment(experiment, backend=backend, seed=seed, runs_dir=out,
                                 source=str(path))
        wall += outcome.results["wall_s"]
        verdicts.append(outcome.verdict)
        if outcome.verdict == "fail":
            failed = [c["name"] for c in outcome.results["checks"] if c["valid"] is False]
            caught = {"run": seed, "checks": failed, "dir": str(outcome.dir)}
            break
    return {
        "bug": experiment.cluster.unsafe,
        "backend": backend,
        "experiment": experiment.name,
        "verdicts": verdicts,
        "caught": caught,
        "wall_s": round(wall, 1),
    }


@click.command("bugs")
@click.option("--backend", type=click.Choice(BACKENDS), default="local", show_default=True)
@click.option("--runs", type=click.IntRange(1, 100), default=5, show_default=True,
              help="Runs per bug at most (seeds 1..N).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              default=Path("runs/bench-bugs"), show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def bugs_bench(ctx: click.Context, backend: str, runs: int, out: Path, as_json: bool) -> None:
    """Each seeded bug's experiment, run until the runner flags it."""
    settings = ctx.find_root().obj or {}
    logs.configure(settings.get("log_format", "auto"), "error")
    rows = [hunt(path, backend, runs, out) for path in bugs.paths()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Seeded bugs on {backend} (at most {runs} runs each)")
    for column in ("bug", "caught in run", "failed checks", "verdicts", "wall s"):
        table.add_column(column)
    for row in rows:
        if "skipped" in row:
            table.add_row(row["bug"], "skipped", row["skipped"], "", "")
            continue
        caught = row["caught"]
        table.add_row(
            row["bug"],
            str(caught["run"]) if caught else f"not in {len(row['verdicts'])}",
            ", ".join(caught["checks"]) if caught else "",
            " ".join(row["verdicts"]),
            str(row["wall_s"]),
        )
    Console(width=160).print(table)
