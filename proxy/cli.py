"""``chaoslab proxy ...``: the Toxiproxy layer's commands.

Rules: parsing and printing only; the work lives in proxy.server and
proxy.topology.
"""

from __future__ import annotations

import click


@click.group()
def proxy() -> None:
    """Toxiproxy layer: generate configs, run the embedded Toxiproxy-compatible server."""
