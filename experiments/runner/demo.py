"""``chaoslab demo``: the main job in one command — a catalog experiment on real node
processes behind the embedded Toxiproxy, judged, with the availability of each side.

Rules: a thin front for ``chaoslab run experiments/catalog/isolate-leader.yaml``: it says
what is about to happen, runs it with the live display, prints the verdict of every
expectation and where the run directory and report are. Exit codes as ``chaoslab run``.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import click
from rich.console import Console

from experiments import catalog
from experiments.backends import BACKENDS, refusals
from experiments.errors import BackendFailure
from experiments.runner.api import run_experiment
from experiments.runner.cli import EXIT_INTERRUPTED, print_outcome, quiet_simulator_logs
from experiments.runner.progress import LiveProgress
from experiments.spec import load_experiment

DEMO = "isolate-leader"


@click.command()
@click.option("--experiment", "name", default=DEMO, show_default=True,
              type=click.Choice(catalog.names()), help="Which catalog experiment to run.")
@click.option("--backend", type=click.Choice(BACKENDS), default="local", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Default: random.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("runs"),
              show_default=True, help="Where the run directory goes.")
@click.pass_context
def demo(ctx: click.Context, name: str, backend: str, seed: int | None, out: Path) -> None:
    """Cut the leader off, then kill the new one, under 10 clients: see who stayed
    available and whether the store stayed correct."""
    quiet_simulator_logs(ctx, backend)
    console = Console(highlight=False)
    path = catalog.path(name)
    experiment = load_experiment(path)
    problems = refusals(backend, experiment)
    if problems:
        raise click.UsageError("; ".join(problems))
    seed = seed if seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    nodes = experiment.cluster.nodes
    network = "over a simulated network" if backend == "sim" else "every link behind Toxiproxy"
    console.print(
        f"[bold]{experiment.name}[/] on {nodes} {backend} nodes, {network}, "
        f"{experiment.workload.clients} clients bound to their nodes, for "
        f"{experiment.duration:g} s (seed {seed}):",
        soft_wrap=True,
    )
    console.print(f"  {experiment.description}", soft_wrap=True)
    title = f"{experiment.name} · {backend} · seed {seed}"
    try:
        with LiveProgress(console, title, experiment.duration) as live:
            outcome = run_experiment(
                experiment, backend=backend, seed=seed, runs_dir=out, source=str(path),
                on_progress=live.callback if backend != "sim" else None,
            )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: every fault was healed and the cluster stopped")
        sys.exit(EXIT_INTERRUPTED)
    except BackendFailure as exc:
        console.print(f"[red]the demo could not run[/]: {exc}")
        sys.exit(3)
    print_outcome(console, outcome)
    sys.exit(outcome.exit_code)
