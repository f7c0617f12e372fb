"""``chaoslab cluster up|status|down|kill|restart`` and ``chaoslab demo``.

Rules: parsing and printing only; the work is in ``local`` and ``demo``. Bad
input (no cluster in --data-dir, an unknown node): one line, exit 2. A cluster
that cannot do what was asked (already running, no leader in time): exit 1.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console

from experiments.cluster.demo import run_demo
from experiments.cluster.local import LocalCluster, UpOptions
from experiments.cluster.state import ClusterError, NoCluster
from experiments.cluster.table import print_table

DEFAULT_DIR = "./.chaoslab/cluster"

_data_dir = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DIR,
    show_default=True,
    envvar="CHAOSLAB_DATA_DIR",
    help="Where the cluster's record (cluster.json), data and logs live.",
)


def _cluster(data_dir: Path, *, must_exist: bool = True) -> LocalCluster:
    cluster = LocalCluster(data_dir)
    if must_exist and not cluster.exists():
        raise click.UsageError(
            f"no cluster in {data_dir} (cluster.json is missing); start one with `chaoslab "
            "cluster up` or pass --data-dir"
        )
    return cluster


def _fail(exc: ClusterError) -> None:
    if isinstance(exc, NoCluster):
        raise click.UsageError(str(exc)) from None
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@click.group()
def cluster() -> None:
    """Manage a local cluster of node processes on 127.0.0.1."""


@cluster.command("up")
@click.option("--nodes", type=click.Choice(["3", "5"]), default="3", show_default=True)
@click.option("--base-port", type=click.IntRange(1024, 65000), help="Node i listens on P+i.")
@_data_dir
@click.option("--with-proxy", is_flag=True, help="Put the embedded Toxiproxy on every link.")
@click.option("--tick-ms", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--election-tick", type=click.IntRange(min=2), default=15, show_default=True)
@click.option("--heartbeat-tick", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--snapshot-every", type=click.IntRange(min=1), help="Compact after N entries.")
@click.option(
    "--sync",
    type=click.Choice(["always", "never"]),
    default="always",
    show_default=True,
    help="never is UNSAFE: a crash loses acknowledged writes.",
)
@click.option("--forward-writes", is_flag=True, help="Followers forward writes to the leader.")
@click.option(
    "--wait",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a leader.",
)
def up(
    nodes: str,
    base_port: int | None,
    data_dir: Path,
    with_proxy: bool,
    tick_ms: int,
    election_tick: int,
    heartbeat_tick: int,
    snapshot_every: int | None,
    sync: str,
    forward_writes: bool,
    wait: float,
) -> None:
    """Start N detached nodes, wait until a leader is elected, print the cluster."""
    if heartbeat_tick >= election_tick:
        raise click.UsageError(
            f"--heartbeat-tick ({heartbeat_tick}) must be below --election-tick ({election_tick})"
        )
    options = UpOptions(
        nodes=int(nodes),
        base_port=base_port,
        with_proxy=with_proxy,
        tick_ms=tick_ms,
        election_tick=election_tick,
        heartbeat_tick=heartbeat_tick,
        snapshot_every=snapshot_every,
        sync=sync,
        forward_writes=forward_writes,
    )
    local = _cluster(data_dir, must_exist=False)
    try:
        state = local.up(options, wait_s=wait)
        print_table(local.status(state))
    except ClusterError as exc:
        _fail(exc)
    if state.proxy_url:
        click.echo(f"toxiproxy API: {state.proxy_url}")


@cluster.command("status")
@_data_dir
@click.option("--json", "as_json", is_flag=True, help="Print the JSON array (a contract).")
def status(data_dir: Path, as_json: bool) -> None:
    """Show every node's role, term, leader and indexes (unreachable ones too)."""
    local = _cluster(data_dir)
    try:
        reports = local.status()
    except ClusterError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in reports]))
    else:
        print_table(reports)


@cluster.command("down")
@_data_dir
@click.option("--purge", is_flag=True, help="Also delete the nodes' data and the record.")
def down(data_dir: Path, purge: bool) -> None:
    """Stop every node (SIGTERM, then SIGKILL) and the proxy."""
    try:
        stopped = _cluster(data_dir).down(purge=purge)
    except ClusterError as exc:
        _fail(exc)
    click.echo(f"stopped {len(stopped)} node(s)" + (" and purged the data" if purge else ""))


@cluster.command("kill")
@click.argument("node_id", metavar="N", type=click.IntRange(min=1))
@_data_dir
def kill(node_id: int, data_dir: Path) -> None:
    """SIGKILL node N (a crash: no graceful shutdown)."""
    try:
        was = _cluster(data_dir).kill(node_id)
    except ClusterError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"node {node_id} killed" if was else f"node {node_id} was not running")


@cluster.command("restart")
@click.argument("node_id", metavar="N", type=click.IntRange(min=1))
@_data_dir
def restart(node_id: int, data_dir: Path) -> None:
    """Restart node N with its recorded settings (SIGTERM first if it runs)."""
    try:
        _cluster(data_dir).restart(node_id)
    except ClusterError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"node {node_id} restarted")


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo cluster here (default: a temporary directory, removed after).",
)
@click.option("--writes", type=click.IntRange(1, 1000), default=20, show_default=True)
def demo(data_dir: Path | None, writes: int) -> None:
    """Start 3 nodes, write, SIGKILL the leader, show every acknowledged write survived."""
    console = Console()
    if data_dir is not None:
        sys.exit(run_demo(data_dir, writes=writes, console=console))
    with tempfile.TemporaryDirectory(prefix="chaoslab-demo-") as tmp:
        code = run_demo(Path(tmp), writes=writes, console=console)
    sys.exit(code)
