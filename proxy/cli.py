"""``chaoslab proxy ...``: the Toxiproxy layer's commands.

Rules: parsing and printing only; the work lives in proxy.server and
proxy.topology.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from proxy.server.cli import serve
from proxy.topology import Placement, Topology, TopologyError, toxiproxy_config


@click.group()
def proxy() -> None:
    """Toxiproxy layer: generate configs, run the embedded Toxiproxy-compatible server."""


@proxy.command("config")
@click.option("--nodes", "nodes", type=int, required=True, help="Cluster size, 1 to 99.")
@click.option(
    "--base-port",
    type=int,
    default=20000,
    show_default=True,
    help="Proxy ports are base + 10*src + dst (src 0 for client proxies; 100*src from 10 "
    "nodes on).",
)
@click.option(
    "--node-port",
    type=int,
    default=7000,
    show_default=True,
    help="local: node i serves clients on node-port + i, peers on node-port + 100 + i; "
    "compose: every node on node-port (clients) and node-port + 100 (peers).",
)
@click.option(
    "--mode",
    type=click.Choice(["local", "compose"]),
    default="local",
    show_default=True,
    help="local: everything on 127.0.0.1; compose: proxies on 0.0.0.0, upstreams nI:PORT.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON here instead of standard output.",
)
def config(nodes: int, base_port: int, node_port: int, mode: str, out: Path | None) -> None:
    """Print (or write) the proxies' JSON for ``toxiproxy -config`` and POST /populate."""
    try:
        topology = Topology(
            nodes=nodes,
            base_port=base_port,
            placement=Placement.for_mode(mode, node_port=node_port),
        )
    except TopologyError as exc:
        click.echo(f"chaoslab proxy config: {exc}", err=True)
        raise SystemExit(2) from exc
    text = json.dumps(toxiproxy_config(topology), indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(f"chaoslab proxy config: cannot write --out {out}: {exc.strerror}", err=True)
        raise SystemExit(2) from exc


proxy.add_command(serve)
