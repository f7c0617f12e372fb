"""``chaoslab proxy serve``: run the embedded Toxiproxy-compatible server in the foreground.

Rules: parsing and printing only; the server lives in proxy.server.server.
A bad ``--config`` (unreadable, not a proxy list, or a proxy that cannot be
created) is one line naming the problem and exit 2.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import click

from proxy.server.errors import ApiError, ConfigFileError
from proxy.server.server import DEFAULT_PORT, EmbeddedToxiproxy, read_config, serve_forever


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="API bind address.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON array of proxies to create first (as `toxiproxy -config`; toxics ignored).",
)
@click.option("--seed", type=int, help="Seed every random draw (toxicity, jitter, slicer).")
def serve(host: str, port: int, config_path: Path | None, seed: int | None) -> None:
    """Serve Toxiproxy's HTTP API (2.12-compatible) with an asyncio TCP proxy."""
    try:
        config = read_config(config_path) if config_path is not None else None
    except ConfigFileError as err:
        raise click.BadParameter(str(err), param_hint="--config") from None
    server = EmbeddedToxiproxy(host, port, seed=seed)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_forever(server, config))
    except ApiError as err:
        raise click.UsageError(f"--config {config_path}: {err.message}") from None
    except OSError as err:
        raise click.UsageError(f"cannot serve the API on {host}:{port}: {err}") from None
