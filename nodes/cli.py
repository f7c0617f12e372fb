"""``chaoslab node`` and ``chaoslab admin``: run one node, ask one node about itself.

Rules: parsing and printing only; nothing here knows about local clusters or
proxies (``kv``, ``cluster`` and ``demo`` live in ``experiments.cluster``).
Bad input: one line naming the problem, exit 2.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path

import click
import structlog

from nodes.client import Client, FailpointRequest, FailpointSecretError, failpoint_metadata
from nodes.server import SettingsError, load_settings, serve
from nodes.server.auth import PeerAuthError, write_secret
from nodes.server.config import Consistency, Unsafe

EXIT_FAIL = 1
EXIT_UNKNOWN = 3


@click.command()
@click.option("--id", "node_id", type=int, help="This node's id (1..99).")
@click.option("--listen", help="HOST:PORT of the client listener (Kv and Admin).")
@click.option(
    "--peer-listen", help="HOST:PORT of the peer listener (Raft peers only; needed with peers)."
)
@click.option(
    "--peers",
    help='Where this node reaches each peer\'s peer listener: "2=HOST:PORT,3=HOST:PORT".',
)
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--cluster-id",
    help="The cluster's name; peers of another cluster are refused [default: chaoslab].",
)
@click.option(
    "--peer-secret-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The cluster's shared peer secret, mode 0600 (`chaoslab admin init-secret FILE`).",
)
@click.option(
    "--peer-tls-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Mutual TLS on peer links: this node's certificate (PEM; with --peer-tls-key/-ca).",
)
@click.option("--peer-tls-key", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--peer-tls-ca", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--peer-tls-server-name",
    help="The name every peer certificate carries (SAN) [default: chaoslab-peer].",
)
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
@click.option(
    "--unsafe",
    multiple=True,
    type=click.Choice([u.value for u in Unsafe]),
    help="UNSAFE lab switch, for chaos experiments only: break the node on purpose "
    "(repeatable).",
)
@click.option(
    "--consistency",
    type=click.Choice([c.value for c in Consistency]),
    help="cp: linearizable (ReadIndex, the default). lease: UNSAFE under clock faults "
    "(leader-lease reads). stale: UNSAFE (every replica reads locally). ap: UNSAFE "
    "(every replica writes locally, last-writer-wins, anti-entropy). Every node of a "
    "cluster must run the same mode.",
)
@click.option(
    "--failpoints/--no-failpoints",
    default=None,
    help="Accept the authenticated admin failpoint call (clock and disk faults, for chaos "
    "experiments) [default: off].",
)
@click.option("--snapshot-every", type=int, help="Compact after this many applied entries.")
@click.option("--seed", type=int, help="Seed the election timeouts (default: random).")
def node(
    node_id: int | None,
    listen: str | None,
    peer_listen: str | None,
    peers: str | None,
    data_dir: Path | None,
    cluster_id: str | None,
    peer_secret_file: Path | None,
    peer_tls_cert: Path | None,
    peer_tls_key: Path | None,
    peer_tls_ca: Path | None,
    peer_tls_server_name: str | None,
    client_addresses: str | None,
    config_file: Path | None,
    tick_ms: int | None,
    election_tick: int | None,
    heartbeat_tick: int | None,
    sync: str | None,
    forward_writes: bool | None,
    unsafe: tuple[str, ...],
    consistency: str | None,
    failpoints: bool | None,
    snapshot_every: int | None,
    seed: int | None,
) -> None:
    """Run one replicated KV node (settings also from CHAOSLAB_* env vars)."""
    cli = {
        "id": node_id,
        "listen": listen,
        "peer_listen": peer_listen,
        "peers": peers,
        "data_dir": data_dir,
        "cluster_id": cluster_id,
        "peer_secret_file": peer_secret_file,
        "peer_tls_cert": peer_tls_cert,
        "peer_tls_key": peer_tls_key,
        "peer_tls_ca": peer_tls_ca,
        "peer_tls_server_name": peer_tls_server_name,
        "client_addresses": client_addresses,
        "tick_ms": tick_ms,
        "election_tick": election_tick,
        "heartbeat_tick": heartbeat_tick,
        "sync": sync,
        "forward_writes": forward_writes,
        "unsafe": unsafe or None,
        "consistency": consistency,
        "failpoints": failpoints,
        "snapshot_every": snapshot_every,
    }
    try:
        settings = load_settings(cli, config_file=config_file)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    code = asyncio.run(serve(settings, seed=seed))
    sys.exit(code)


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
        if name == "consistency" and value != Consistency.CP.value:
            click.echo(f"{name}: {value} ({Consistency(value).warning})")
        elif name != "peers":
            click.echo(f"{name}: {value}")
    for peer in data["peers"]:
        click.echo("peer: " + " ".join(f"{k}={v}" for k, v in peer.items()))


@admin.command("init-secret")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def admin_init_secret(path: Path) -> None:
    """Create PATH holding a fresh peer secret (mode 0600), unless it exists.

    The secret itself is never printed. Every node of a cluster reads the same file
    (--peer-secret-file).
    """
    try:
        created = write_secret(path)
    except PeerAuthError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{'created' if created else 'kept the existing'} peer secret {path}")


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


@admin.command("failpoint")
@click.argument("address")
@click.option("--secret-file", required=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="The cluster's peer secret (the call carries its token).")
@click.option("--cluster-id", default="chaoslab", show_default=True)
@click.option("--clock-jump-ms", type=int, default=None,
              help="Step the node's clock by this much (negative: back in time).")
@click.option("--clock-rate", type=float, default=None,
              help="Run the node's clock at this speed (0.5: half speed; 1: true time).")
@click.option("--clock-reset", is_flag=True, help="Put the node's clock back on true time.")
@click.option("--disk", type=click.Choice(["none", "error", "slow", "full"]), default=None,
              help="Make the node's disk fail (EIO), slow, full (ENOSPC), or healthy again.")
@click.option("--disk-delay-ms", type=click.IntRange(min=0), default=0,
              help="slow: added to every write and fsync.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=2.0, show_default=True)
def admin_failpoint(
    address: str,
    secret_file: Path,
    cluster_id: str,
    clock_jump_ms: int | None,
    clock_rate: float | None,
    clock_reset: bool,
    disk: str | None,
    disk_delay_ms: int,
    timeout: float,
) -> None:
    """UNSAFE: break the clock or disk of the node at ADDRESS (it must run with --failpoints).

    Exit 0 and print what is in force; 1 when the node refused (failpoints off, wrong
    token, a value out of range) or did not answer.
    """
    try:
        metadata = failpoint_metadata(secret_file, cluster_id)
    except FailpointSecretError as exc:
        raise click.UsageError(str(exc)) from None
    request = FailpointRequest(clock_jump_ms=clock_jump_ms, clock_rate=clock_rate,
                               clock_reset=clock_reset, disk=disk, disk_delay_ms=disk_delay_ms)
    with Client([address], attempt_timeout_s=timeout) as client:
        outcome = client.failpoint(address, request, metadata)
    state = outcome.value
    if state is None:
        click.echo(f"failpoint refused: {outcome.error}", err=True)
        sys.exit(EXIT_FAIL)
    click.echo(f"clock: {state.clock_offset_ms:+d} ms, rate {state.clock_rate:g}; "
               f"disk: {state.disk} ({state.disk_injected} operation(s) hit)")


__all__ = ["admin", "node"]
