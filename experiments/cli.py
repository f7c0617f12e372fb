"""The ``chaoslab`` command: one click group; each subcommand lives with its package.

Rules: this module only wires commands together and configures logging; the
work lives in the modules it imports. Bad input exits 2 with one line naming
the problem (click's usage errors already do).
"""

from __future__ import annotations

import click

from experiments import logs
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
def main(log_format: str, log_level: str) -> None:
    """chaoslab: see what partitions, latency and loss do to a Raft-replicated store."""
    logs.configure(log_format, log_level)  # type: ignore[arg-type]



@main.group()
def bench() -> None:
    """Benchmarks: each prints its figures as a table (and JSON with --json)."""


# Subcommands that live with their packages: one line each.
main.add_command(proxy)
