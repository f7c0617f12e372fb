"""``chaoslab report`` (re-render a run's report.html and junit.xml) and ``chaoslab runs``.

Rules: commands only parse, call the report package and print. Bad input
(a directory that is not a run, a missing or malformed file) prints one line
per problem naming the directory and the file, on stderr, and exits 2 after
every other directory was rendered.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from experiments.report.html import render_run
from experiments.report.junit import write_junit
from experiments.report.listing import find_runs
from experiments.report.rundir import RunDirError

_STYLE = {"pass": "green", "fail": "red", "unknown": "grey50", "broken": "magenta"}


@click.command("report")
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--all", "every", is_flag=True,
              help="Re-render every run under --runs-dir (as well as any RUN_DIR given).")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"),
              show_default=True, help="Where --all looks for runs.")
def report(run_dirs: tuple[Path, ...], every: bool, runs_dir: Path) -> None:
    """Re-render report.html and junit.xml of each RUN_DIR from its files."""
    targets = list(run_dirs)
    if every:
        if not runs_dir.is_dir():
            raise click.UsageError(f"--runs-dir {runs_dir}: not a directory")
        targets += [r.dir for r in find_runs(runs_dir)]
    if not targets:
        raise click.UsageError("give at least one RUN_DIR (or --all)")
    failed = 0
    for run_dir in targets:
        try:
            page = render_run(run_dir)
            write_junit(run_dir)
        except RunDirError as exc:
            failed += 1
            click.echo(f"chaoslab report: {exc}", err=True)
            continue
        click.echo(str(page))
    if failed:
        raise SystemExit(2)


@click.command("runs")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"),
              show_default=True, help="The runs directory to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, newest first.")
def runs(runs_dir: Path, as_json: bool) -> None:
    """List past runs, newest first: experiment, backend, seed, verdict, when."""
    if not runs_dir.is_dir():
        raise click.UsageError(f"--runs-dir {runs_dir}: not a directory")
    found = find_runs(runs_dir)
    if as_json:
        for run in found:
            click.echo(json.dumps(run.to_json()))
        return
    if not found:
        click.echo(f"no runs under {runs_dir}")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("when", "experiment", "backend", "seed", "verdict", "dir"):
        table.add_column(column)
    for run in found:
        verdict = run.verdict + (f" ({run.problem})" if run.problem else "")
        table.add_row(run.when, run.experiment, run.backend, str(run.seed),
                      f"[{_STYLE.get(run.verdict, 'white')}]{verdict}[/]", str(run.dir))
    Console(soft_wrap=True).print(table)
