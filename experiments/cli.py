"""The ``chaoslab`` command: one click group; each subcommand lives with its package.

Rules: this module only wires commands together and configures logging; the
work lives in the modules it imports. Bad input exits 2 with one line naming
the problem (click's usage errors already do).
"""

from __future__ import annotations

import click

from experiments import logs
from experiments.bench.checker import checker as bench_checker
from experiments.bench.sim import sim_bench
from experiments.check_cli import check
from experiments.sim.cli import sim
from nodes.bench.raft import raft as bench_raft
from nodes.bench.storage import storage as bench_storage
from proxy.bench import proxy_bench
from proxy.bench_faults import faults_bench
from proxy.cli import proxy


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    show_default=True,
    envvar="CHAOSLAB_LOG_FORMAT",
    help="key=value on a terminal, JSON otherwise (auto), or forced.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    envvar="CHAOSLAB_LOG_LEVEL",
)
@click.version_option(package_name="chaoslab")
@click.pass_context
def main(ctx: click.Context, log_format: str, log_level: str) -> None:
    """chaoslab: see what partitions, latency and loss do to a Raft-replicated store."""
    logs.configure(log_format, log_level)  # type: ignore[arg-type]
    ctx.obj = {"log_format": log_format, "log_level": log_level}


@main.group()
def bench() -> None:
    """Benchmarks: each prints its figures as a table (and JSON with --json)."""


# Subcommands that live with their packages: one line each.
main.add_command(proxy)
main.add_command(sim)
bench.add_command(bench_storage)
bench.add_command(bench_raft)
bench.add_command(faults_bench)
bench.add_command(proxy_bench)
main.add_command(check)
bench.add_command(bench_checker)
bench.add_command(sim_bench)
