"""``chaoslab node``, ``kv`` and ``admin`` (``cluster`` and ``demo`` live in nodes.cluster.cli).

Rules: parsing and printing only. Bad input: one line naming the problem, exit 2.
``kv`` exit codes: 0 ok; 1 failed (missing key on get, a cas that found another
value, or the cluster certainly did not apply it); 3 unknown (a write that may or
may not have taken effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import structlog

from nodes.client import Client, InvalidRequest, Outcome
from nodes.cluster.cli import DEFAULT_DIR, cluster, demo
from nodes.cluster.state import ClusterError, load_state
from nodes.kv import InvalidCommand
from nodes.server import SettingsError, load_settings, serve

EXIT_FAIL = 1
EXIT_UNKNOWN = 3


@click.command()
@click.option("--id", "node_id", type=int, help="This node's id (1..99).")
@click.option("--listen", help="HOST:PORT this node serves on.")
@click.option("--peers", help='Where this node sends to each peer: "2=HOST:PORT,3=HOST:PORT".')
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--client-addresses",
    help='Where clients reach each node (NOT_LEADER redirects): "1=HOST:PORT,...".',
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A TOML file of the same settings (flags and CHAOSLAB_* env override it).",
)
@click.option("--tick-ms", type=int, help="Length of one Raft tick [default: 10].")
@click.option("--election-tick", type=int, help="Election timeout in ticks [default: 15].")
@click.option("--heartbeat-tick", type=int, help="Heartbeat interval in ticks [default: 3].")
@click.option(
    "--sync",
    type=click.Choice(["always", "never"]),
    help="fsync the log before acknowledging (always), or never: UNSAFE, a crash loses acked "
    "writes [default: always].",
)
@click.option(
    "--forward-writes/--no-forward-writes",
    default=None,
    help="Followers forward writes to the leader instead of answering NOT_LEADER.",
)
@click.option("--snapshot-every", type=int, help="Compact after this many applied entries.")
@click.option("--seed", type=int, help="Seed the election timeouts (default: random).")
def node(
    node_id: int | None,
    listen: str | None,
    peers: str | None,
    data_dir: Path | None,
    client_addresses: str | None,
    config_file: Path | None,
    tick_ms: int | None,
    election_tick: int | None,
    heartbeat_tick: int | None,
    sync: str | None,
    forward_writes: bool | None,
    snapshot_every: int | None,
    seed: int | None,
) -> None:
    """Run one replicated KV node (settings also from CHAOSLAB_* env vars)."""
    cli = {
        "id": node_id,
        "listen": listen,
        "peers": peers,
        "data_dir": data_dir,
        "client_addresses": client_addresses,
        "tick_ms": tick_ms,
        "election_tick": election_tick,
        "heartbeat_tick": heartbeat_tick,
        "sync": sync,
        "forward_writes": forward_writes,
        "snapshot_every": snapshot_every,
    }
    try:
        settings = load_settings(cli, config_file=config_file)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    code = asyncio.run(serve(settings, seed=seed))
    sys.exit(code)


# ---- kv ---------------------------------------------------------------------------


def _addresses(address: tuple[str, ...], cluster_dir: Path | None) -> list[str]:
    if address:
        return [a.strip() for item in address for a in item.split(",") if a.strip()]
    directory = cluster_dir or Path(os.environ.get("CHAOSLAB_DATA_DIR", DEFAULT_DIR))
    try:
        return load_state(directory).client_addresses
    except ClusterError as exc:
        raise click.UsageError(f"{exc} (or pass --address HOST:PORT)") from None


def _target(func: Any) -> Any:
    func = click.option(
        "--address",
        "-a",
        multiple=True,
        help="A node's client address HOST:PORT (repeatable or comma-separated).",
    )(func)
    func = click.option(
        "--cluster-dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="Use the local cluster recorded here [default: $CHAOSLAB_DATA_DIR or "
        f"{DEFAULT_DIR}].",
    )(func)
    return click.option(
        "--timeout", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
        help="Total seconds for the operation, retries included.",
    )(func)


@contextlib.contextmanager
def _client(address: tuple[str, ...], cluster_dir: Path | None, timeout: float) -> Iterator[Client]:
    with Client(_addresses(address, cluster_dir), timeout_s=timeout) as client:
        yield client


def _finish(outcome: Outcome[Any], printed: str | None) -> None:
    if outcome.status == "ok":
        if printed is not None:
            click.echo(printed)
        return
    if outcome.status == "info":
        click.echo(f"unknown: the write may or may not have taken effect ({outcome.error})", err=True)
        sys.exit(EXIT_UNKNOWN)
    click.echo(f"failed: {outcome.error}", err=True)
    sys.exit(EXIT_FAIL)


@contextlib.contextmanager
def _input_errors() -> Iterator[None]:
    try:
        yield
    except (InvalidCommand, InvalidRequest) as exc:
        raise click.UsageError(str(exc)) from None


@click.group()
def kv() -> None:
    """Read and write the replicated store (exit 0 ok, 1 failed, 3 unknown, 2 bad input)."""


@kv.command("get")
@click.argument("key")
@click.option(
    "--consistency",
    type=click.Choice(["linearizable", "stale"]),
    default="linearizable",
    show_default=True,
    help="stale is UNSAFE: any replica answers from its local state.",
)
@_target
def kv_get(
    key: str, consistency: str, address: tuple[str, ...], cluster_dir: Path | None, timeout: float
) -> None:
    """Print KEY's value (exit 1 when it is absent)."""
    with _input_errors(), _client(address, cluster_dir, timeout) as client:
        outcome = client.get(key, consistency)
    if outcome.status == "ok" and outcome.value is None:
        click.echo(f"key {key!r} not found", err=True)
        sys.exit(EXIT_FAIL)
    _finish(outcome, outcome.value)


@kv.command("put")
@click.argument("key")
@click.argument("value")
@_target
def kv_put(
    key: str, value: str, address: tuple[str, ...], cluster_dir: Path | None, timeout: float
) -> None:
    """Set KEY to VALUE."""
    with _input_errors(), _client(address, cluster_dir, timeout) as client:
        outcome = client.put(key, value)
    _finish(outcome, "OK")


@kv.command("delete")
@click.argument("key")
@_target
def kv_delete(key: str, address: tuple[str, ...], cluster_dir: Path | None, timeout: float) -> None:
    """Remove KEY (ok whether or not it existed)."""
    with _input_errors(), _client(address, cluster_dir, timeout) as client:
        outcome = client.delete(key)
    _finish(outcome, "OK")


@kv.command("cas")
@click.argument("key")
@click.argument("old")
@click.argument("new")
@click.option("--absent", is_flag=True, help="Expect KEY to be absent (OLD is ignored).")
@_target
def kv_cas(
    key: str,
    old: str,
    new: str,
    absent: bool,
    address: tuple[str, ...],
    cluster_dir: Path | None,
    timeout: float,
) -> None:
    """Set KEY to NEW if it holds OLD (exit 1 when it holds something else)."""
    with _input_errors(), _client(address, cluster_dir, timeout) as client:
        outcome = client.cas(key, None if absent else old, new)
    if outcome.error == "mismatch":
        found = "absent" if outcome.value is None else repr(outcome.value)
        click.echo(f"mismatch: {key!r} is {found}, not {old!r}", err=True)
        sys.exit(EXIT_FAIL)
    _finish(outcome, "OK")


# ---- admin ------------------------------------------------------------------------


@click.group()
def admin() -> None:
    """Ask one node about itself: health, status, leadership transfer."""


@admin.command("health")
@click.argument("address")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=2.0, show_default=True)
def admin_health(address: str, timeout: float) -> None:
    """Exit 0 when the node at ADDRESS is healthy, 1 when not (Docker HEALTHCHECK)."""
    with Client([address], attempt_timeout_s=timeout) as client:
        outcome = client.health(address)
    click.echo(("healthy: " if outcome.value else "unhealthy: ") + (outcome.error or ""))
    sys.exit(0 if outcome.value else 1)


@admin.command("status")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=2.0, show_default=True)
def admin_status(address: str, as_json: bool, timeout: float) -> None:
    """Print the status of the node at ADDRESS (exit 1 when it does not answer)."""
    with Client([address], attempt_timeout_s=timeout) as client:
        outcome = client.status(address)
    if outcome.value is None:
        click.echo(f"{address} did not answer: {outcome.error}", err=True)
        sys.exit(1)
    data = dataclasses.asdict(outcome.value)
    if as_json:
        click.echo(json.dumps(data))
        return
    for name, value in data.items():
        if name != "peers":
            click.echo(f"{name}: {value}")
    for peer in data["peers"]:
        click.echo("peer: " + " ".join(f"{k}={v}" for k, v in peer.items()))


@admin.command("transfer-leader")
@click.argument("address")
@click.argument("to_id", type=click.IntRange(min=1))
@click.option("--timeout", type=click.FloatRange(min=0.01), default=2.0, show_default=True)
def admin_transfer(address: str, to_id: int, timeout: float) -> None:
    """Ask the node at ADDRESS (or its leader) to hand leadership to node TO_ID."""
    with Client([address], attempt_timeout_s=timeout) as client:
        outcome = client.transfer_leader(address, to_id)
    if outcome.status != "ok":
        if outcome.error and outcome.error.startswith("INVALID_ARGUMENT"):
            raise click.UsageError(outcome.error)
        click.echo(f"transfer refused: {outcome.error}", err=True)
        sys.exit(1)
    click.echo(f"leadership transfer to node {to_id} requested")
    structlog.get_logger().debug("transfer_requested", to=to_id)


__all__ = ["admin", "cluster", "demo", "kv", "node"]
