"""``chaoslab bench faults``: how long applying and undoing fault plans takes.

Rules: talks to one Toxiproxy server (``--url``, or an embedded one started on
loopback for the run); creates the topology's proxies on it and deletes them at the
end; bounded by ``--repeat``. No connection crosses the proxies: this measures the
control path (HTTP calls through ``proxy.control``), not data. Figures depend on what
else the machine is doing: report them with that context.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import click
from rich.console import Console
from rich.table import Table

from proxy import faults
from proxy.control import ToxiproxyControl
from proxy.faults import CutMode, FaultPlan
from proxy.injection import StaticFault, heal
from proxy.ports import find_free_base_port
from proxy.server import run_in_thread
from proxy.topology import Topology, toxiproxy_config


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One measured step."""

    step: str
    calls: int
    """HTTP calls per run of the step."""
    runs: int
    p50_ms: float
    max_ms: float


@contextmanager
def _server(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with run_in_thread("127.0.0.1", 0, seed=1) as handle:
        yield handle.url


def _timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return (time.perf_counter() - began) * 1000


def _row(step: str, calls: int, samples: list[float]) -> Row:
    return Row(
        step=step,
        calls=calls,
        runs=len(samples),
        p50_ms=round(statistics.median(samples), 2),
        max_ms=round(max(samples), 2),
    )


def measure(control: ToxiproxyControl, topology: Topology, repeat: int) -> list[Row]:
    """Time populate, apply/undo of several faults, and heal, ``repeat`` times each.

    Args:
        control: the server.
        topology: the proxies to create (deleted again at the end).
        repeat: runs per step.

    Returns:
        One row per step.
    """
    config = toxiproxy_config(topology)
    rng = random.Random(0)
    plans: dict[str, FaultPlan] = {
        "partition drop (bisect)": faults.partition(
            topology, [topology.node_ids[: topology.nodes // 2]]
        ),
        "partition refuse (bisect)": faults.partition(
            topology, [topology.node_ids[: topology.nodes // 2]], mode=CutMode.REFUSE
        ),
        "isolate drop": faults.isolate(topology, 1),
        "latency all links": faults.latency(topology, topology.links, 10, 2),
        "majority/minority drop": faults.majority_minority(topology, rng),
    }
    rows = [_row("populate (first)", 1, [_timed(lambda: control.populate(config))])]
    try:
        rows.append(
            _row(
                "populate (unchanged)",
                1,
                [_timed(lambda: control.populate(config)) for _ in range(repeat)],
            )
        )
        for name, plan in plans.items():
            calls = len(plan.toxics) + len(plan.disable)
            applied: list[float] = []
            undone: list[float] = []
            for _ in range(repeat):
                fault = StaticFault(plan, control)
                applied.append(_timed(fault.start))
                undone.append(_timed(fault.undo))
            rows.extend(
                (_row(f"{name}: apply", calls, applied), _row(f"{name}: undo", calls, undone))
            )
        swept: list[float] = []
        for _ in range(repeat):
            StaticFault(plans["partition drop (bisect)"], control).start()
            swept.append(_timed(lambda: heal(control, topology)))
        calls = 1 + len(plans["partition drop (bisect)"].toxics)
        rows.append(_row("heal sweep after drop partition", calls, swept))
    finally:
        for spec in topology.proxies():
            control.delete(spec.name)
    return rows


@click.command("faults")
@click.option("--url", default=None, help="A running Toxiproxy; default: an embedded one.")
@click.option("--nodes", type=click.IntRange(3, 20), default=5, show_default=True)
@click.option("--repeat", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
def faults_bench(url: str | None, nodes: int, repeat: int, as_json: bool) -> None:
    """Time applying and undoing partitions, latency and heal against a Toxiproxy server."""
    with _server(url) as base_url:
        control = ToxiproxyControl(base_url, timeout_s=30)
        topology = Topology(nodes=nodes, base_port=find_free_base_port(nodes))
        rows = measure(control, topology, repeat)
    if as_json:
        click.echo(
            json.dumps(
                {"server": url or "embedded", "nodes": nodes, "rows": [asdict(r) for r in rows]}
            )
        )
        return
    table = Table(title=f"fault control path, {nodes} nodes, {url or 'embedded server'}")
    for column in ("step", "HTTP calls", "runs", "p50 ms", "max ms"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for r in rows:
        table.add_row(r.step, str(r.calls), str(r.runs), f"{r.p50_ms:.2f}", f"{r.max_ms:.2f}")
    Console().print(table)
