"""``chaoslab kv``: read and write a running cluster from the command line.

Rules: parsing and printing only (the work is ``nodes.client``). Exit codes:
0 ok; 1 failed (missing key on get, a cas that found another value, or the
cluster certainly did not apply it); 3 unknown (a write that may or may not
have taken effect); 2 bad input, with one line naming the problem.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from experiments.cluster.cli import DEFAULT_DIR, DIR_ENV
from experiments.cluster.state import ClusterError, load_state
from nodes.client import Client, InvalidRequest, Outcome
from nodes.kv import InvalidCommand

EXIT_FAIL = 1
EXIT_UNKNOWN = 3


def check_address(address: str) -> str:
    """Return ``address`` if it is ``HOST:PORT`` with a port in 1..65535.

    Raises:
        click.BadParameter: otherwise (bad input: nothing is sent).
    """
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        msg = f"{address!r} is not HOST:PORT with a port in 1..65535"
        raise click.BadParameter(msg, param_hint="--address")
    return address


def _addresses(address: tuple[str, ...], cluster_dir: Path | None) -> list[str]:
    if address:
        return [check_address(a.strip()) for item in address for a in item.split(",") if a.strip()]
    from_env = next((os.environ[name] for name in DIR_ENV if os.environ.get(name)), None)
    directory = cluster_dir or Path(from_env or DEFAULT_DIR)
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
        help="Use the local cluster recorded here "
        f"[default: $CHAOSLAB_CLUSTER_DIR or {DEFAULT_DIR}].",
    )(func)
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0.01),
        default=5.0,
        show_default=True,
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
        click.echo(
            f"unknown: the write may or may not have taken effect ({outcome.error})", err=True
        )
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
