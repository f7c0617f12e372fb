"""``chaoslab bench catalog``: the whole experiment catalog on each backend, and what the
runner's recording costs.

Rules: measurement only, bounded in runs and time; every run is a real ``chaoslab run``
(run directories under ``--out``). Figures:

- per experiment and backend: verdict counts, violations (non-linearizable runs), lost
  acknowledged writes, availability quiet / majority / minority and recovery (median over
  the runs), wall time;
- ``--sim-seeds N``: each experiment over seeds 1..N on the simulator;
- ``--stores chaoslab,etcd``: the same experiments and seeds on each store (local), side
  by side;
- ``--recorder S``: ops/s of the same clients on one local cluster, S seconds with the
  runner's recording clients and S seconds with bare ``AsyncClient`` loops, back to back.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from experiments import catalog, logs
from experiments.backends import BACKENDS, refusals
from experiments.backends.local import LocalBackend, LocalOptions
from experiments.runner.api import RunOutcome, run_experiment
from experiments.runner.engine import Engine
from experiments.runner.plan import plan_run
from experiments.runner.sweep import default_jobs, sweep
from experiments.spec import load_experiment, parse_experiment
from experiments.spec.model import with_store
from experiments.stores.names import DEFAULT_STORE, check_store_name
from nodes.client import AsyncClient


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def summarise(
    name: str, backend: str, outcomes: list[RunOutcome], store: str = DEFAULT_STORE
) -> dict[str, Any]:
    """One row: verdicts, violations, lost writes, availability and recovery medians."""
    def yields(side: str) -> list[float]:
        found = []
        for o in outcomes:
            value = o.results["availability"]["totals"].get(side, {}).get("yield")
            if value is not None:
                found.append(value)
        return found

    lost = 0
    for o in outcomes:
        lost += sum(int(c["measured"]) for c in o.results["checks"] if c["name"] == "lost-writes")
    recoveries = [o.results["recovery_s"] for o in outcomes if o.results["recovery_s"] is not None]
    return {
        "experiment": name,
        "backend": backend,
        "store": store,
        "runs": len(outcomes),
        "pass": sum(1 for o in outcomes if o.verdict == "pass"),
        "fail": sum(1 for o in outcomes if o.verdict == "fail"),
        "unknown": sum(1 for o in outcomes if o.verdict == "unknown"),
        "violations": sum(1 for o in outcomes if o.results["linearizability"]["valid"] is False),
        "lost_writes": lost,
        "quiet": _median(yields("quiet")),
        "majority": _median(yields("majority")),
        "minority": _median(yields("minority")),
        "recovery_s": _median(recoveries),
        "failing_seeds": [o.seed for o in outcomes if o.verdict != "pass"],
        "wall_s": round(sum(o.results["wall_s"] for o in outcomes), 1),
    }


def run_catalog(
    names: list[str],
    backend: str,
    *,
    seeds: list[int],
    out: Path,
    jobs: int,
    store: str = DEFAULT_STORE,
) -> list[dict[str, Any]]:
    """Every named experiment over ``seeds`` on ``backend`` and ``store`` (those it can run)."""
    rows = []
    for name in names:
        experiment = with_store(load_experiment(catalog.path(name)), store)
        if refusals(backend, experiment):
            rows.append({"experiment": name, "backend": backend, "store": store, "runs": 0,
                         "skipped": "; ".join(refusals(backend, experiment))})
            continue
        if backend == "sim":
            outcomes = sweep(experiment, seeds, runs_dir=out, source=str(catalog.path(name)),
                             jobs=jobs)
        else:
            outcomes = [
                run_experiment(experiment, backend=backend, seed=seed, runs_dir=out,
                               source=str(catalog.path(name)))
                for seed in seeds
            ]
        rows.append(summarise(name, backend, outcomes, store))
    return rows


RECORDER = """\
name: recorder-overhead
cluster: {nodes: 3}
workload: {clients: 8, keys: 8, rate: 100000, routing: home, final-reads: false}
duration: 10s
"""


async def _bare_clients(addresses: list[str], clients: int, keys: int, seconds: float) -> int:
    """The same clients without the runner: home-bound AsyncClients in closed loops."""
    done = 0
    stop = time.monotonic() + seconds

    async def worker(i: int) -> None:
        nonlocal done
        home = addresses[i % len(addresses)]
        async with AsyncClient([home], routing="home", timeout_s=1.0,
                               attempt_timeout_s=0.3) as client:
            n = 0
            while time.monotonic() < stop:
                key = f"k{n % keys}"
                if n % 2:
                    await client.get(key)
                else:
                    await client.put(key, str(n))
                n += 1
                done += 1

    await asyncio.gather(*(worker(i) for i in range(clients)))
    return done


def measure_recorder(seconds: float) -> dict[str, Any]:
    """ops/s with the runner's recording clients and with bare clients, one cluster."""
    experiment = parse_experiment(RECORDER.replace("10s", f"{seconds:g}s"))
    backend = LocalBackend(LocalOptions(nodes=3))
    try:
        backend.start()
        engine = Engine(plan_run(experiment, 1), backend, poll_interval_s=0.1)
        started = time.monotonic()
        backend.execute(engine.program, limit_s=seconds + 30)
        recorded_s = time.monotonic() - started
        engine.close()
        recorded = sum(1 for op in engine.record.ops if op.type == "invoke")
        addresses = [backend.client_addresses[n] for n in sorted(backend.client_addresses)]
        bare = asyncio.run(_bare_clients(addresses, 8, 8, seconds))
    finally:
        backend.stop()
    return {
        "seconds": seconds,
        "recorded_ops_per_s": round(recorded / recorded_s, 1),
        "bare_ops_per_s": round(bare / seconds, 1),
        "overhead": round(1 - (recorded / recorded_s) / (bare / seconds), 3) if bare else None,
    }


@click.command("catalog")
@click.option("--backends", default="sim,local", show_default=True,
              help="Comma-separated: sim, local, docker.")
@click.option("--experiments", "names", default="all", show_default=True,
              help="Comma-separated catalog names, or all.")
@click.option("--sim-seeds", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--runs", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Runs per experiment on real backends (seeds 1..N).")
@click.option("--recorder", type=click.FloatRange(0, 600), default=0.0, show_default=True,
              help="Also measure the recording overhead for this many seconds (0: skip).")
@click.option("--stores", default=DEFAULT_STORE, show_default=True,
              help="Comma-separated stores to run each experiment on (chaoslab, etcd, "
              "package.module:Class); stores other than chaoslab run on local only.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              default=Path("runs/bench-catalog"), show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def catalog_bench(ctx: click.Context, backends: str, names: str, sim_seeds: int, runs: int,
                  stores: str, recorder: float, out: Path, jobs: int | None,
                  as_json: bool) -> None:
    """The catalog on each backend: verdicts, violations, lost writes, availability, recovery."""
    settings = ctx.find_root().obj or {}
    logs.configure(settings.get("log_format", "auto"), "error")
    chosen = catalog.names() if names == "all" else [n.strip() for n in names.split(",")]
    unknown = sorted(set(chosen) - set(catalog.names()))
    if unknown:
        raise click.BadParameter(f"unknown experiment(s) {unknown}", param_hint="--experiments")
    wanted = [b.strip() for b in backends.split(",") if b.strip()]
    bad = sorted(set(wanted) - set(BACKENDS))
    if bad:
        raise click.BadParameter(f"unknown backend(s) {bad}", param_hint="--backends")
    chosen_stores = [s.strip() for s in stores.split(",") if s.strip()]
    for store in chosen_stores:
        try:
            check_store_name(store)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--stores") from None
    results: dict[str, Any] = {"catalog": []}
    for backend in wanted:
        seeds = list(range(1, (sim_seeds if backend == "sim" else runs) + 1))
        for store in chosen_stores:
            if store != DEFAULT_STORE and backend != "local":
                continue
            results["catalog"] += run_catalog(chosen, backend, seeds=seeds, out=out,
                                              jobs=jobs or default_jobs(), store=store)
    if recorder:
        results["recorder"] = measure_recorder(recorder)
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    _print(Console(width=160), results)


def _print(console: Console, results: dict[str, Any]) -> None:
    table = Table(title="The catalog")
    for column in ("experiment", "backend", "store", "runs", "pass/fail/unknown", "violations",
                   "lost writes", "quiet", "majority", "minority", "recovery s", "wall s"):
        table.add_column(column)

    def shown(value: Any) -> str:
        return "—" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    for row in results["catalog"]:
        if not row["runs"]:
            table.add_row(row["experiment"], row["backend"], row["store"], "0", row["skipped"],
                          *([""] * 7))
            continue
        table.add_row(
            row["experiment"], row["backend"], row["store"], str(row["runs"]),
            f"{row['pass']}/{row['fail']}/{row['unknown']}", str(row["violations"]),
            str(row["lost_writes"]), shown(row["quiet"]), shown(row["majority"]),
            shown(row["minority"]), shown(row["recovery_s"]), shown(row["wall_s"]),
        )
    console.print(table)
    if "recorder" in results:
        r = results["recorder"]
        console.print(f"recording: {r['recorded_ops_per_s']} ops/s recorded against "
                      f"{r['bare_ops_per_s']} bare ({r['overhead']:.1%} overhead, "
                      f"{r['seconds']:g} s each, 8 clients, 3 local nodes)")

