"""``chaoslab run EXPERIMENT.yaml... [--backend sim|local|docker] [--seed N | --seeds A..B]
[--out DIR] [--json]``: run experiments and judge them.

Rules: parsing and printing only; the work is ``experiments.runner.api`` and ``sweep``.
Exit codes (a contract, DESIGN.md): 0 every expectation of every run held, 1 some run
failed one, 2 bad input (a file, line, field and what was expected, or a backend that
cannot run the experiment), 3 some verdict is unknown and none failed; 130 after Ctrl-C
(every fault healed and the cluster stopped first). A failing run prints the one command
that reproduces it. ``--json`` prints one object per run on stdout.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from experiments import logs
from experiments.backends import BACKENDS, BackendOptions, refusals
from experiments.errors import BackendFailure, BadInput
from experiments.runner.api import RunOutcome, run_experiment
from experiments.runner.progress import LiveProgress
from experiments.runner.sweep import default_jobs, sweep
from experiments.seeds import seed_range
from experiments.spec import Experiment, ExperimentError, load_experiment
from experiments.spec.model import with_store

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
_MARKS = {True: "[green]✓[/]", False: "[red]✗[/]", "unknown": "[yellow]?[/]"}
_VERDICTS = {"pass": "[bold green]PASS[/]", "fail": "[bold red]FAIL[/]",
             "unknown": "[bold yellow]UNKNOWN[/]"}


def parse_seeds(text: str) -> list[int]:
    """``"7"`` or ``"1..100"`` (inclusive) to a list of seeds.

    Raises:
        click.BadParameter: anything else, or an empty range.
    """
    try:
        seeds = seed_range(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if len(seeds) > 1_000_000:
        msg = f"{text!r}: at most 1,000,000 seeds in one sweep"
        raise click.BadParameter(msg)
    return list(seeds)


def _bad_input(lines: list[str]) -> None:
    for line in lines:
        click.echo(line, err=True)
    sys.exit(EXIT_BAD_INPUT)


def _load_all(paths: tuple[Path, ...]) -> list[tuple[Path, Experiment]]:
    """Every file validated before anything runs (exit 2 with every problem found)."""
    loaded = []
    problems: list[str] = []
    for path in paths:
        try:
            loaded.append((path, load_experiment(path)))
        except ExperimentError as exc:
            problems.extend(exc.problems)
    if problems:
        _bad_input(problems)
    return loaded


def store_override(experiment: Experiment, store: str) -> Experiment:
    """``experiment`` on ``store`` (``--store``); a usage error (exit 2) for a bad name."""
    try:
        return with_store(experiment, store)
    except ValueError as exc:
        raise click.BadParameter(str(exc).splitlines()[-1].strip(), param_hint="--store") from None


def _refuse_unsupported(loaded: list[tuple[Path, Experiment]], backend: str) -> None:
    """Exit 2 naming every experiment the backend cannot run, and why."""
    problems = [
        f"{path}: {reason}" for path, experiment in loaded
        for reason in refusals(backend, experiment)
    ]
    if problems:
        _bad_input(problems)


def _chosen_backend(loaded: list[tuple[Path, Experiment]], given: str | None) -> str:
    """``--backend``; else the one every file names (a resolved experiment.yaml replays on
    the backend it ran on); else local."""
    if given is not None:
        return given
    named = {experiment.backend for _, experiment in loaded}
    only = named.pop() if len(named) == 1 else None
    return only if only is not None else "local"


def print_outcome(console: Console, outcome: RunOutcome) -> None:
    """The verdict of every check, the availability per side, and where the files are."""
    results = outcome.results
    wall = results.get("wall_s", 0.0)
    console.print(
        f"[bold]{outcome.experiment}[/] · {outcome.backend} · seed {outcome.seed} · "
        f"{_VERDICTS[outcome.verdict]}  ({wall:.1f} s)"
    )
    checks = results.get("checks", [])
    width = max((len(c["name"]) for c in checks), default=10)
    for check in checks:
        summary = check["summary"]
        bound = " meets " in summary or " misses " in summary
        note = "" if bound else f"  {escape(summary)}"
        console.print(
            f"  {_MARKS.get(check['valid'], '?')} {check['name']:<{width}}  "
            f"{escape(str(check['measured']))}  [dim](expected "
            f"{escape(str(check['expected']))})[/]{note}",
            soft_wrap=True,
        )
    totals = results.get("availability", {}).get("totals", {})
    parts = []
    for side in ("quiet", "majority", "minority"):
        row = totals.get(side, {})
        if row.get("invoked"):
            parts.append(f"{side} {row['yield']:.3f} ({row['answered']}/{row['invoked']})")
    recovery = results.get("recovery_s")
    if recovery is not None:
        parts.append(f"recovery {recovery:.2f} s")
    if parts:
        console.print("  answered: " + " · ".join(parts), soft_wrap=True)
    if outcome.dir is not None:
        report = outcome.dir / "report.html"
        console.print(f"  run: {outcome.dir}", soft_wrap=True)
        if report.exists():
            console.print(f"  report: {report}", soft_wrap=True)
    if outcome.verdict != "pass":
        console.print(f"  reproduce: {escape(outcome.command)}", soft_wrap=True)


def quiet_simulator_logs(ctx: click.Context, backend: str) -> None:
    """On the simulator the nodes run in this process: keep their logs out of the way."""
    settings = ctx.find_root().obj or {}
    if backend == "sim" and settings.get("log_level", "info") != "debug":
        logs.configure(settings.get("log_format", "auto"), "error")


def _local_options(toxiproxy_url: str | None, toxiproxy_server: Path | None,
                   proxy_base_port: int | None) -> dict[str, Any]:
    """Local-cluster options, passed only when given (the cluster knows its defaults)."""
    from experiments.cluster.local import UpOptions  # noqa: PLC0415 - imported lazily on purpose

    wanted = {
        "toxiproxy_url": toxiproxy_url,
        "toxiproxy_server": None if toxiproxy_server is None else str(toxiproxy_server),
        "proxy_base_port": proxy_base_port,
    }
    known = set(getattr(UpOptions, "__dataclass_fields__", {}))
    given = {k: v for k, v in wanted.items() if v is not None}
    missing = sorted(set(given) - known)
    if missing:
        names = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise click.UsageError(f"{names}: not supported by this version's local cluster")
    return given


@click.command()
@click.argument("experiments", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--backend", type=click.Choice(BACKENDS), default=None,
              help="Where to run: the simulator, local processes (embedded Toxiproxy), or the "
              "docker-compose cluster [default: the file's backend:, else local].")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="The run's seed [default: the file's seed:, else a random one, printed].")
@click.option("--seeds", "seeds_text", default=None,
              help="A..B: one run per seed (on sim, spread over worker processes).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("runs"),
              show_default=True, help="Where run directories go.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run on stdout.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for a sim sweep (default: one per CPU).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run a sim sweep on this Dask distributed scheduler (tcp://HOST:8786).")
@click.option("--keep", is_flag=True, help="Keep a real cluster's data directory after the run.")
@click.option("--toxiproxy-url", default=None,
              help="local: use this running Toxiproxy server instead of the embedded one.")
@click.option("--toxiproxy-server", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="local: start this toxiproxy-server binary.")
@click.option("--proxy-base-port", type=click.IntRange(1024, 60000), default=None,
              help="local: the proxies' port base.")
@click.option("--project", default=None, help="docker: the compose project to use.")
@click.option("--store", default=None, metavar="NAME",
              help="Judge this store instead of the file's cluster.store: chaoslab, etcd, or "
              "package.module:Class (an adapter of your own; local backend).")
@click.option("--check-time-limit", type=click.FloatRange(min=0.1), default=60.0,
              show_default=True, help="Seconds for the linearizability search per run.")
@click.pass_context
def run(
    ctx: click.Context,
    experiments: tuple[Path, ...],
    backend: str | None,
    seed: int | None,
    seeds_text: str | None,
    out: Path,
    as_json: bool,
    jobs: int | None,
    scheduler: str | None,
    keep: bool,
    toxiproxy_url: str | None,
    toxiproxy_server: Path | None,
    proxy_base_port: int | None,
    project: str | None,
    store: str | None,
    check_time_limit: float,
) -> None:
    """Run experiment files and judge every run (exit 0 pass, 1 fail, 2 bad input, 3 unknown)."""
    if seed is not None and seeds_text is not None:
        raise click.UsageError("give --seed N or --seeds A..B, not both")
    loaded = _load_all(experiments)
    if store is not None:
        loaded = [(path, store_override(experiment, store)) for path, experiment in loaded]
    backend = _chosen_backend(loaded, backend)
    if scheduler is not None and backend != "sim":
        raise click.UsageError("--scheduler runs simulator sweeps only: add --backend sim")
    _refuse_unsupported(loaded, backend)
    quiet_simulator_logs(ctx, backend)
    explicit = parse_seeds(seeds_text) if seeds_text else (None if seed is None else [seed])
    options = BackendOptions(
        keep=keep,
        local=_local_options(toxiproxy_url, toxiproxy_server, proxy_base_port)
        if backend == "local" else {},
        docker_project=project,
    )
    console = Console(stderr=as_json, highlight=False)
    outcomes: list[RunOutcome] = []
    try:
        for path, experiment in loaded:
            seeds = explicit or [
                experiment.seed if experiment.seed is not None
                else random.SystemRandom().randrange(1, 1_000_000)
            ]
            outcomes += _run_one_file(
                console, path, experiment, backend, seeds, out, options, as_json,
                jobs or default_jobs(), scheduler, check_time_limit,
            )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: every fault was healed and the cluster stopped")
        sys.exit(EXIT_INTERRUPTED)
    except BadInput as exc:
        _bad_input([str(exc)])
    codes = {o.exit_code for o in outcomes}
    if len(outcomes) > 1 and not as_json:
        _print_totals(console, outcomes)
    sys.exit(1 if 1 in codes else (3 if 3 in codes else 0))


def _run_one_file(
    console: Console,
    path: Path,
    experiment: Experiment,
    backend: str,
    seeds: list[int],
    out: Path,
    options: BackendOptions,
    as_json: bool,
    jobs: int,
    scheduler: str | None,
    check_time_limit: float,
) -> list[RunOutcome]:
    def report(outcome: RunOutcome) -> None:
        if as_json:
            click.echo(json.dumps(outcome.to_json()))
        if not as_json or outcome.verdict != "pass":
            print_outcome(console, outcome)

    if backend == "sim" and (len(seeds) > 1 or scheduler):
        where = f"via Dask at {scheduler}" if scheduler else f"on {jobs} worker(s)"
        console.print(f"{experiment.name}: {len(seeds)} seed(s) on the simulator {where}")

        columns = (TextColumn(f"[bold]{experiment.name}[/]"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[failed]} not passed"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True,
                      disable=not console.is_terminal) as bar:
            task = bar.add_task("seeds", total=len(seeds), failed=0)
            missed = 0

            def brief(outcome: RunOutcome) -> None:
                nonlocal missed
                if as_json:
                    click.echo(json.dumps(outcome.to_json()))
                if outcome.verdict != "pass":
                    missed += 1
                    print_outcome(console, outcome)
                bar.update(task, advance=1, failed=missed)

            return sweep(experiment, seeds, runs_dir=out, source=str(path), jobs=jobs,
                         scheduler=scheduler, check_time_limit_s=check_time_limit,
                         on_done=brief)
    outcomes = []
    for seed in seeds:
        title = f"{experiment.name} · {backend} · seed {seed}"
        with LiveProgress(console, title, experiment.duration) as live:
            try:
                outcome = run_experiment(
                    experiment, backend=backend, seed=seed, runs_dir=out, source=str(path),
                    options=options, on_progress=live.callback if backend != "sim" else None,
                    check_time_limit_s=check_time_limit,
                )
            except BackendFailure as exc:
                raise BadInput(str(exc)) from exc
        report(outcome)
        outcomes.append(outcome)
    return outcomes


def _print_totals(console: Console, outcomes: list[RunOutcome]) -> None:
    counts = {v: sum(1 for o in outcomes if o.verdict == v) for v in ("pass", "fail", "unknown")}
    console.print(
        f"{len(outcomes)} run(s): {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['unknown']} unknown"
    )
    for outcome in outcomes:
        if outcome.verdict != "pass":
            console.print(f"  {outcome.verdict}: {escape(outcome.command)}", soft_wrap=True)
