"""``chaoslab cluster ...``: a local cluster and its faults.

Rules: parsing and printing only; the work is in ``local``, ``faults`` and ``demo``,
the fault plans in ``proxy.faults``. Every command takes ``--cluster-dir`` (env
``CHAOSLAB_CLUSTER_DIR``; ``--data-dir`` and ``CHAOSLAB_DATA_DIR`` are older spellings
kept as hidden aliases). Bad input (no cluster in the directory, an unknown node, a
malformed group or link): one line, exit 2. A cluster that cannot do what was asked
(already running, a node that died on start, no leader in time, no proxy for a
network fault): one line, exit 1.
"""

from __future__ import annotations

import functools
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from experiments.cluster import faults as cluster_faults
from experiments.cluster import processes
from experiments.cluster.local import LocalCluster, UpOptions
from experiments.cluster.state import ClusterError, NoCluster
from experiments.cluster.table import print_table
from proxy import faults
from proxy.control import STREAMS, ToxiproxyControl
from proxy.topology import Link, Topology, TopologyError

DEFAULT_DIR = "./.chaoslab/cluster"
DIR_ENV = ("CHAOSLAB_CLUSTER_DIR", "CHAOSLAB_DATA_DIR")
F = TypeVar("F", bound=Callable[..., Any])


def cluster_dir_option(func: F) -> F:
    """``--cluster-dir`` (and the hidden older spelling ``--data-dir``) as ``cluster_dir``."""

    @functools.wraps(func)
    def merged(*args: Any, cluster_dir: Path, legacy_data_dir: Path | None, **kwargs: Any) -> Any:
        return func(*args, cluster_dir=legacy_data_dir or cluster_dir, **kwargs)

    hidden = click.option(
        "--data-dir",
        "legacy_data_dir",
        type=click.Path(path_type=Path, file_okay=False),
        hidden=True,
        help="The older spelling of --cluster-dir.",
    )(merged)
    return click.option(  # type: ignore[return-value]
        "--cluster-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=DEFAULT_DIR,
        show_default=True,
        envvar=list(DIR_ENV),
        help="Where the cluster's record (cluster.json), secret, data and logs live "
        "[env: CHAOSLAB_CLUSTER_DIR].",
    )(hidden)


def _cluster(cluster_dir: Path, *, must_exist: bool = True) -> LocalCluster:
    cluster = LocalCluster(cluster_dir)
    if must_exist and not cluster.exists():
        raise click.UsageError(
            f"no cluster in {cluster_dir} (cluster.json is missing); start one with `chaoslab "
            "cluster up` or pass --cluster-dir"
        )
    return cluster


def _fail(exc: ClusterError) -> NoReturn:
    if isinstance(exc, NoCluster):
        raise click.UsageError(str(exc)) from None
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


def _node_error(exc: ClusterError) -> NoReturn:
    """An unknown node is bad input (exit 2); anything else the cluster's (exit 1)."""
    if "is not in this cluster" in str(exc):
        raise click.UsageError(str(exc)) from None
    _fail(exc)


@click.group()
def cluster() -> None:
    """Manage a local cluster of node processes on 127.0.0.1, and its faults."""


@cluster.command("up")
@click.option("--nodes", type=click.Choice(["3", "5"]), default="3", show_default=True)
@click.option(
    "--base-port",
    type=click.IntRange(1024, 65000),
    help="Node i serves clients on P+i and peers on P+100+i [default: a free block from 7100].",
)
@cluster_dir_option
@click.option("--with-proxy", is_flag=True, help="Put the embedded Toxiproxy on every link.")
@click.option(
    "--proxy-base-port",
    type=click.IntRange(1024, 65000),
    help="With a proxy: the API on P, client_nJ on P+J, nI_nJ on P+10*I+J "
    "[default: --base-port + 200].",
)
@click.option(
    "--toxiproxy-url",
    metavar="URL",
    help="Use this running Toxiproxy (http://127.0.0.1:PORT) instead of the embedded one.",
)
@click.option(
    "--toxiproxy-server",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Start this toxiproxy-server binary instead of the embedded one.",
)
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
@click.option(
    "--forward-writes",
    is_flag=True,
    help="Followers forward writes to the leader over the peer links.",
)
@click.option(
    "--consistency",
    type=click.Choice(["cp", "lease", "stale", "ap"]),
    default="cp",
    show_default=True,
    help="cp is linearizable; lease (UNSAFE under clock faults), stale and ap (UNSAFE) "
    "trade it away (see chaoslab node --help).",
)
@click.option(
    "--failpoints",
    is_flag=True,
    help="Nodes accept the authenticated admin failpoint call (clock and disk faults).",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a leader and every node.",
)
def up(
    nodes: str,
    base_port: int | None,
    cluster_dir: Path,
    with_proxy: bool,
    proxy_base_port: int | None,
    toxiproxy_url: str | None,
    toxiproxy_server: Path | None,
    tick_ms: int,
    election_tick: int,
    heartbeat_tick: int,
    snapshot_every: int | None,
    sync: str,
    forward_writes: bool,
    consistency: str,
    failpoints: bool,
    wait: float,
) -> None:
    """Start N detached nodes, wait until a leader is elected and every node answers."""
    if heartbeat_tick >= election_tick:
        raise click.UsageError(
            f"--heartbeat-tick ({heartbeat_tick}) must be below --election-tick ({election_tick})"
        )
    if toxiproxy_url and toxiproxy_server:
        raise click.UsageError("--toxiproxy-url and --toxiproxy-server exclude each other")
    options = UpOptions(
        nodes=int(nodes),
        base_port=base_port,
        with_proxy=with_proxy,
        proxy_base_port=proxy_base_port,
        toxiproxy_url=toxiproxy_url,
        toxiproxy_server=toxiproxy_server,
        tick_ms=tick_ms,
        election_tick=election_tick,
        heartbeat_tick=heartbeat_tick,
        snapshot_every=snapshot_every,
        sync=sync,
        forward_writes=forward_writes,
        consistency=consistency,
        failpoints=failpoints,
    )
    local = _cluster(cluster_dir, must_exist=False)
    try:
        state = local.up(options, wait_s=wait)
        print_table(local.status(state))
    except ClusterError as exc:
        if "already runs" in str(exc) or "records" in str(exc):
            _fail(exc)
        click.echo(f"error: {exc}", err=True)
        if local.exists():
            click.echo("the processes that started are still running: `chaoslab cluster down`")
        sys.exit(1)
    if state.proxy is not None:
        click.echo(f"toxiproxy API: {state.proxy_url} ({state.proxy.kind})")


@cluster.command("status")
@cluster_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the JSON array (a contract).")
def status(cluster_dir: Path, as_json: bool) -> None:
    """Show every node's role, term, leader and indexes (unreachable ones too).

    --json prints the contract: a JSON array with one object per node, keys id, address,
    role, term, leader, commit_index, applied_index. `cluster info --json` has the rest.
    """
    local = _cluster(cluster_dir)
    try:
        reports = local.status()
        state = local.state()
    except ClusterError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in reports]))
        return
    print_table(reports)
    paused = [n.id for n in state.nodes if n.paused]
    if paused:
        click.echo(f"paused: {', '.join(f'n{n}' for n in paused)}")
    if state.faults:
        click.echo("faults: " + "; ".join(f.description for f in state.faults))
    proxy = state.proxy
    if proxy is not None and (
        proxy.kind == "external" or processes.is_running(proxy.pid, proxy.argv)
    ):
        click.echo(f"toxiproxy API: {state.proxy_url} ({proxy.kind})")


@cluster.command("info")
@cluster_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(cluster_dir: Path, as_json: bool) -> None:
    """The cluster's layout and what is in force: ports, processes, the proxy, faults.

    --json: {"cluster_dir", "cluster_id", "peer_secret_file", "proxy": null or {"kind",
    "url", "base_port", "running"}, "nodes": [{"id", "address", "listen", "peer_listen",
    "pid", "running", "paused", "log", "data_dir"}], "faults": [{"f", "description",
    "started_at", "running"}]}.
    """
    try:
        data = _cluster(cluster_dir).info()
    except ClusterError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(f"cluster {data['cluster_id']} in {data['cluster_dir']}")
    for node in data["nodes"]:
        state = "paused" if node["paused"] else "running" if node["running"] else "stopped"
        click.echo(
            f"  n{node['id']}: clients {node['address']} (own {node['listen']}), "
            f"peers {node['peer_listen']}, {state}"
        )
    proxy = data["proxy"]
    click.echo("  proxy: none" if proxy is None else f"  proxy: {proxy['kind']} {proxy['url']}")
    for fault in data["faults"]:
        click.echo(f"  fault: {fault['description']}")


@cluster.command("down")
@cluster_dir_option
@click.option("--purge", is_flag=True, help="Also delete the nodes' data, secret and record.")
def down(cluster_dir: Path, purge: bool) -> None:
    """Stop every node (SIGTERM, then SIGKILL), flapper and the proxy."""
    try:
        stopped = _cluster(cluster_dir).down(purge=purge)
    except ClusterError as exc:
        _fail(exc)
    click.echo(f"stopped {len(stopped)} node(s)" + (" and purged the data" if purge else ""))


def _node_command(
    name: str, doc: str, act: Callable[[LocalCluster, int], bool | None], said: tuple[str, str]
) -> None:
    @cluster.command(name, help=doc)
    @click.argument("node_id", metavar="N", type=click.IntRange(min=1))
    @cluster_dir_option
    def command(node_id: int, cluster_dir: Path) -> None:
        try:
            done = act(_cluster(cluster_dir), node_id)
        except ClusterError as exc:
            _node_error(exc)
        click.echo(f"node {node_id} {said[0] if done is not False else said[1]}")


_node_command(
    "kill",
    "SIGKILL node N (a crash: no graceful shutdown).",
    LocalCluster.kill,
    ("killed", "was not running"),
)
_node_command(
    "restart",
    "Restart node N with its recorded settings (SIGTERM first if it runs); exit 1 when it "
    "dies on start or does not answer.",
    LocalCluster.restart,
    ("restarted", "restarted"),
)
_node_command(
    "pause",
    "Freeze node N (SIGSTOP) until `resume`.",
    LocalCluster.pause,
    ("paused", "was not running"),
)
_node_command(
    "resume", "Thaw node N (SIGCONT).", LocalCluster.resume, ("resumed", "was not running")
)


# ---- network faults (through the cluster's Toxiproxy) ---------------------------------


def _topology(local: LocalCluster) -> Topology:
    try:
        topology = local.topology()
    except ClusterError as exc:
        _fail(exc)
    if topology is None:
        _fail(
            ClusterError(
                f"the cluster in {local.data_dir} runs without a proxy: network faults need "
                "`chaoslab cluster up --with-proxy` (after `chaoslab cluster down --purge`)"
            )
        )
    return topology


def parse_groups(text: str) -> list[list[int]]:
    """``"1,2|3"`` → ``[[1, 2], [3]]``.

    Raises:
        click.BadParameter: not groups of node ids.
    """
    try:
        groups = [[int(n) for n in part.split(",") if n.strip()] for part in text.split("|")]
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: expected node ids like 1,2|3,4,5", param_hint="GROUPS"
        ) from None
    if not all(groups):
        raise click.BadParameter(f"{text!r}: a group is empty", param_hint="GROUPS")
    return groups


def parse_links(topology: Topology, items: tuple[str, ...], nodes: tuple[int, ...]) -> list[str]:
    """Proxy names from LINKS (``1->2``, ``n1_n2``, ``client_n3``) and ``--node`` (every
    link to and from it); every peer link when both are empty.

    Raises:
        click.BadParameter: an item names no proxy of this cluster.
    """
    names: list[str] = []
    for item in (part.strip() for raw in items for part in raw.split(",")):
        if not item:
            continue
        src, arrow, dst = item.partition("->")
        try:
            if arrow:
                names.append(topology.link_proxy(Link(src=int(src), dst=int(dst))).name)
            else:
                names.append(topology.proxy(item).name)
        except (TopologyError, ValueError) as exc:
            raise click.BadParameter(f"{item!r}: {exc}", param_hint="LINKS") from None
    for node in nodes:
        try:
            topology.check_node(node)
        except TopologyError as exc:
            raise click.BadParameter(str(exc), param_hint="--node") from None
        names += [link.proxy for link in topology.links if node in (link.src, link.dst)]
    if not names:
        names = [link.proxy for link in topology.links]
    return sorted(set(names))


def _start(local: LocalCluster, plan: faults.FaultPlan | faults.LossPlan) -> None:
    try:
        entry = local.start_fault(plan)
    except ClusterError as exc:
        _fail(exc)
    click.echo(f"{entry.description} (until `chaoslab cluster heal`)")


def _links_options(func: F) -> F:
    func = click.option(
        "--node",
        "link_nodes",
        type=int,
        multiple=True,
        help="Every link to and from node N (repeatable).",
    )(func)
    func = click.option(
        "--stream",
        type=click.Choice([*STREAMS, "both"]),
        default="both",
        show_default=True,
        help="upstream: what the sender sends; downstream: the replies.",
    )(func)
    return click.argument("links", nargs=-1)(func)


def _streams(stream: str) -> tuple[Any, ...]:
    return tuple(STREAMS) if stream == "both" else (stream,)


@cluster.command("partition")
@click.argument("groups")
@cluster_dir_option
@click.option(
    "--mode",
    type=click.Choice([m.value for m in faults.CutMode]),
    default="drop",
    show_default=True,
    help="drop: bytes vanish, connections hang; refuse: connections reset and refused.",
)
def partition(groups: str, cluster_dir: Path, mode: str) -> None:
    """Cut the cluster into GROUPS ("1|2,3"): links between groups, both ways, until `heal`.

    Nodes in no group form one more group together. Clients still reach every node.
    """
    local = _cluster(cluster_dir)
    topology = _topology(local)
    try:
        plan = faults.partition(topology, parse_groups(groups), mode=faults.CutMode(mode))
    except faults.FaultError as exc:
        raise click.BadParameter(str(exc), param_hint="GROUPS") from None
    _start(local, plan)


@cluster.command("isolate")
@click.argument("node_id", metavar="N", type=int)
@cluster_dir_option
@click.option("--mode", type=click.Choice([m.value for m in faults.CutMode]), default="drop")
def isolate(node_id: int, cluster_dir: Path, mode: str) -> None:
    """Cut node N from every peer, both ways, until `heal` (its clients still reach it)."""
    local = _cluster(cluster_dir)
    topology = _topology(local)
    try:
        plan = faults.isolate(topology, node_id, mode=faults.CutMode(mode))
    except faults.FaultError as exc:
        raise click.BadParameter(str(exc), param_hint="N") from None
    _start(local, plan)


@cluster.command("latency")
@_links_options
@cluster_dir_option
@click.option("--ms", type=click.IntRange(min=0), required=True, help="Added delay.")
@click.option("--jitter", type=click.IntRange(min=0), default=0, show_default=True)
def latency(
    links: tuple[str, ...],
    link_nodes: tuple[int, ...],
    stream: str,
    cluster_dir: Path,
    ms: int,
    jitter: int,
) -> None:
    """Delay LINKS (1->2, n1_n2, client_n3; default every peer link) by MS ± JITTER."""
    local = _cluster(cluster_dir)
    topology = _topology(local)
    names = parse_links(topology, links, link_nodes)
    tag = f"latency-{random.Random().randrange(16**6):06x}"
    plan = faults.latency(topology, names, ms, jitter, streams=_streams(stream), tag=tag)
    _start(local, plan)


@cluster.command("bandwidth")
@_links_options
@cluster_dir_option
@click.option(
    "--rate", type=click.IntRange(min=0), required=True, help="KB/s per connection (0 stalls)."
)
def bandwidth(
    links: tuple[str, ...],
    link_nodes: tuple[int, ...],
    stream: str,
    cluster_dir: Path,
    rate: int,
) -> None:
    """Limit LINKS (default every peer link) to RATE KB/s per connection and stream."""
    local = _cluster(cluster_dir)
    topology = _topology(local)
    names = parse_links(topology, links, link_nodes)
    tag = f"bandwidth-{random.Random().randrange(16**6):06x}"
    _start(local, faults.bandwidth(topology, names, rate, streams=_streams(stream), tag=tag))


@cluster.command("loss")
@click.argument("links", nargs=-1)
@click.option("--node", "link_nodes", type=int, multiple=True, help="Every link of node N.")
@cluster_dir_option
@click.option("--p", "p", type=click.FloatRange(0, 1), required=True, help="Cut chance.")
@click.option("--interval-ms", type=click.IntRange(min=10), default=200, show_default=True)
@click.option(
    "--for",
    "for_s",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds the flapping lasts (then every link is restored).",
)
@click.option("--seed", type=int, help="Seeds the schedule [default: random, printed].")
@click.option("--mode", type=click.Choice([m.value for m in faults.CutMode]), default="drop")
def loss(
    links: tuple[str, ...],
    link_nodes: tuple[int, ...],
    cluster_dir: Path,
    p: float,
    interval_ms: int,
    for_s: float,
    seed: int | None,
    mode: str,
) -> None:
    """Message loss on LINKS (default every peer link), emulated by flapping: each
    interval each link is cut with probability P (whole intervals, never single bytes;
    see proxy/faults.py). Runs in a detached process until --for ends or `heal`."""
    local = _cluster(cluster_dir)
    topology = _topology(local)
    names = parse_links(topology, links, link_nodes)
    chosen = seed if seed is not None else random.Random().randrange(2**31)
    plan = faults.loss(
        topology,
        names,
        p,
        seed=chosen,
        interval_ms=interval_ms,
        max_steps=max(1, int(for_s * 1000 / interval_ms)),
        mode=faults.CutMode(mode),
    )
    _start(local, plan)


@cluster.command("heal")
@cluster_dir_option
def heal(cluster_dir: Path) -> None:
    """Undo every network fault: stop loss flappers, remove every toxic, enable every proxy."""
    try:
        report = _cluster(cluster_dir).heal()
    except ClusterError as exc:
        _fail(exc)
    click.echo(f"healed: {len(report.removed)} toxics removed, {len(report.enabled)} enabled")


@cluster.command("flap", hidden=True)
@cluster_dir_option
@click.option("--plan", "plan_json", required=True)
def flap(cluster_dir: Path, plan_json: str) -> None:
    """Run a loss plan until it ends or SIGTERM (started by `cluster loss`)."""
    local = _cluster(cluster_dir)
    try:
        plan = cluster_faults.loss_from_json(plan_json)
        control: ToxiproxyControl | None = local.control()
    except (ValueError, KeyError, ClusterError) as exc:
        raise click.UsageError(f"--plan: {exc}") from None
    if control is None:
        raise click.UsageError(f"the cluster in {cluster_dir} has no proxy")
    sys.exit(cluster_faults.run_flapper(control, plan))
