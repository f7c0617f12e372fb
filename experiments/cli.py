"""The ``chaoslab`` command: one click group; each subcommand lives with its package.

Rules: this module only wires commands together and configures logging; the
work lives in the modules it imports. Bad input exits 2 with one line naming
the problem (click's usage errors already do).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from experiments import logs


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when they are used.

    ``chaoslab admin health`` (a container healthcheck) must not pay for
    importing the simulator, the checkers and every benchmark.
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self._lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            msg = f"{target} is not a click command"
            raise TypeError(msg)
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy={
        "admin": "nodes.cli:admin",
        "cap": "experiments.runner.cap:cap",
        "check": "experiments.check_cli:check",
        "cluster": "experiments.cluster.cli:cluster",
        "demo": "experiments.runner.demo:demo",
        "docker": "experiments.docker.cli:docker",
        "kv": "experiments.cluster.kv_cli:kv",
        "node": "nodes.cli:node",
        "proxy": "proxy.cli:proxy",
        "report": "experiments.report.cli:report",
        "run": "experiments.runner.cli:run",
        "runs": "experiments.report.cli:runs",
        "serve": "experiments.report.serve:serve",
        "sim": "experiments.sim.cli:sim",
    },
)
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


@main.group(
    cls=LazyGroup,
    lazy={
        "bugs": "experiments.bench.bugs:bugs_bench",
        "catalog": "experiments.bench.catalog:catalog_bench",
        "checker": "experiments.bench.checker:checker",
        "faults": "proxy.bench_faults:faults_bench",
        "kv": "experiments.bench.kv.command:kv",
        "proxy": "proxy.bench:proxy_bench",
        "raft": "nodes.bench.raft:raft",
        "report": "experiments.report.bench:report_bench",
        "sim": "experiments.bench.sim:sim_bench",
        "storage": "nodes.bench.storage:storage",
        "timing": "experiments.bench.timing:timing_bench",
    },
)
def bench() -> None:
    """Benchmarks: each prints its figures as a table (and JSON with --json)."""
