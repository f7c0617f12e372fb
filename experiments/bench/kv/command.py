"""``chaoslab bench kv``: chaoslab's KV store and etcd, same harness, same machine, same run.

Rules: orchestration and printing only: clusters come from ``etcd`` /
``chaoslab``, load from ``load``, failover trials from ``failover``, figures
from ``report``. Each system gets a fresh cluster, preloaded with every key,
then the put points, the read points and the failover trials, and is torn down
before the next one starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import structlog
from rich.console import Console

from experiments.bench.kv import report
from experiments.bench.kv.chaoslab import ChaoslabCluster
from experiments.bench.kv.connect import open_pool
from experiments.bench.kv.etcd import (
    ELECTION_MS,
    HEARTBEAT_MS,
    EtcdCluster,
    EtcdMissing,
    ensure_etcd,
)
from experiments.bench.kv.failover import FailoverResult, ProbeSettings, run_failover
from experiments.bench.kv.load import (
    IdleResult,
    LoadSpec,
    Operation,
    PointResult,
    measure_idle,
    run_point,
    workload_name,
)
from experiments.bench.kv.profile import ProfileSummary, Sampler
from experiments.bench.kv.target import (
    SYSTEMS,
    Cluster,
    OperationFailed,
    ReadMode,
    TargetSpec,
)

log = structlog.get_logger()
PRELOAD_CONCURRENCY = 16
TIMINGS: dict[str, tuple[str, ...]] = {
    "default": (),
    # etcd's --heartbeat-interval 50 --election-timeout 300, in 10 ms ticks.
    "etcd": ("--tick-ms", "10", "--heartbeat-tick", str(HEARTBEAT_MS // 10),
             "--election-tick", str(ELECTION_MS // 10)),
}
"""Raft timing of the chaoslab cluster: its defaults (30 ms / 150 ms) or etcd's here."""
REPORT_WIDTH = 130
"""Tables are this wide when printed to a file or pipe (no terminal to measure)."""


def parse_clients(text: str) -> tuple[int, ...]:
    """Parse ``1,16,64`` into client counts.

    Raises:
        click.BadParameter: if an entry is not a positive integer.
    """
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        counts = ()
    if not counts or any(c <= 0 for c in counts):
        msg = f"expected comma-separated positive integers, got {text!r}"
        raise click.BadParameter(msg, param_hint="--clients")
    return counts


async def _preload(spec: TargetSpec, keys: int, value_size: int) -> None:
    """Write every benchmark key once so reads find values."""
    pool = open_pool(spec)
    value = "p" * value_size
    queue = list(range(keys))

    async def writer(worker: int) -> None:
        client = pool.client(worker)
        while queue:
            key = queue.pop()
            for _ in range(3):
                try:
                    await client.put(f"bench-{key:04d}", value)
                    break
                except OperationFailed:
                    await asyncio.sleep(0.05)

    try:
        await asyncio.gather(*(writer(w) for w in range(PRELOAD_CONCURRENCY)))
    finally:
        await pool.close()


def _etcd_version(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10,
                          check=False)
    return done.stdout.splitlines()[0] if done.stdout else "unknown"


def _sampler(cluster: Cluster, name: str, duration_s: float,
             profile_dir: Path | None) -> Sampler | None:
    """A py-spy sampler of the leader for one point (chaoslab only: etcd is not Python)."""
    if profile_dir is None or cluster.system != "chaoslab":
        return None
    pid = cluster.server_pids()[cluster.leader()]
    return Sampler(pid, duration_s, profile_dir / f"{name}.txt")


def _measure(cluster: Cluster, *, clients: Sequence[int], read_clients: int, duration: float,
             warmup: float, procs: int, keys: int, value_size: int, seed: int,
             trials: int, idle_s: float, profile_dir: Path | None,
             ) -> tuple[list[PointResult], FailoverResult | None, IdleResult | None,
                        dict[str, ProfileSummary]]:
    spec = cluster.spec()
    points: list[PointResult] = []
    idle = measure_idle(cluster, idle_s) if idle_s > 0 else None
    if idle is not None:
        log.info("bench_idle", system=idle.system, cores_per_node=round(idle.cores_per_node, 4))
    profiles: dict[str, ProfileSummary] = {}
    plan: list[tuple[Operation, ReadMode, int]] = [("put", "linearizable", c) for c in clients]
    if read_clients:
        plan += [("get", "linearizable", read_clients), ("get", "local", read_clients)]
    if plan:
        asyncio.run(_preload(spec, keys, value_size))
    for op, mode, count in plan:
        load = LoadSpec(target=spec, op=op, mode=mode, clients=count,
                        duration_s=duration, warmup_s=warmup, keys=keys,
                        value_size=value_size, seed=seed)
        name = f"{cluster.system}-{workload_name(op, mode)}-x{count}"
        sampler = _sampler(cluster, name, warmup + duration, profile_dir)
        point = run_point(load, procs=procs, server_pids=cluster.server_pids())
        summary = sampler.finish() if sampler is not None else None
        if summary is not None:
            profiles[name] = summary
        log.info("bench_point", system=point.system, workload=point.workload, clients=count,
                 ops_per_s=round(point.throughput),
                 p99_ms=point.latency and round(point.latency.p99_ms, 2),
                 errors=point.errors, loader_cpu=round(point.loader_cpu, 2))
        points.append(point)
    failover = run_failover(cluster, trials=trials, settings=ProbeSettings()) if trials else None
    return points, failover, idle, profiles


@click.command("kv")
@click.option("--target", type=click.Choice(["chaoslab", "etcd", "both"]), default="both",
              show_default=True, help="Which store(s) to measure.")
@click.option("--duration", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Measured seconds per point.")
@click.option("--warmup", default=1.0, show_default=True, type=click.FloatRange(min=0.0),
              help="Unmeasured seconds of load before each point.")
@click.option("--clients", "clients_text", default="1,16,64", show_default=True,
              help="Concurrent clients of the put points.")
@click.option("--read-clients", default=16, show_default=True, type=click.IntRange(min=0),
              help="Concurrent clients of the get points (0: skip reads).")
@click.option("--trials", default=10, show_default=True, type=click.IntRange(min=0),
              help="Failover trials (leader SIGKILLs) per system.")
@click.option("--skip-failover", is_flag=True, help="Measure throughput and latency only.")
@click.option("--skip-load", is_flag=True, help="Measure failover only.")
@click.option("--chaoslab-timing", type=click.Choice(sorted(TIMINGS)), default="default",
              show_default=True,
              help="chaoslab's Raft timing: its defaults (heartbeat 30 ms, election 150 ms) "
              "or etcd's (50 ms / 300 ms).")
@click.option("--load-procs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Load-generator processes (each runs asyncio workers).")
@click.option("--keys", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--value-size", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=1, show_default=True, help="Seeds the workers' key choice.")
@click.option("--install-etcd/--no-install-etcd", default=True, show_default=True,
              help="apt-get install etcd-server when etcd is missing (root only).")
@click.option("--idle", "idle_s", default=10.0, show_default=True,
              type=click.FloatRange(min=0.0),
              help="Seconds of an idle cluster (elected, no load) whose CPU is measured "
              "before any load (0: skip).")
@click.option("--profile", "profile_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Sample chaoslab's leader with py-spy during each point; keep the raw "
              "stacks in this directory and their summary in the JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document, not tables.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the JSON document to this file.")
def kv(*, target: str, duration: float, warmup: float, clients_text: str, read_clients: int,
       trials: int, skip_failover: bool, skip_load: bool, chaoslab_timing: str,
       load_procs: int, keys: int, value_size: int, seed: int, install_etcd: bool,
       idle_s: float, profile_dir: Path | None, as_json: bool, out: Path | None) -> None:
    """Put/get throughput, latency and leader failover: chaoslab beside a 3-member etcd.

    Both clusters run 3 members on 127.0.0.1 with fsync on; the same asyncio load
    generator (in its own processes) drives both over gRPC, with clients spread
    round-robin over the members.
    """
    clients = parse_clients(clients_text)
    systems = tuple(s for s in SYSTEMS if target in (s, "both"))
    etcd_binary = None
    if "etcd" in systems:
        try:
            etcd_binary = ensure_etcd(install=install_etcd)
        except EtcdMissing as error:
            raise click.ClickException(str(error)) from None
    settings: dict[str, Any] = {
        "systems": list(systems), "duration_s": duration, "warmup_s": warmup,
        "clients": [] if skip_load else list(clients),
        "read_clients": 0 if skip_load else read_clients, "keys": keys,
        "value_size": value_size, "trials": 0 if skip_failover else trials,
        "load_procs": load_procs, "seed": seed, "cpus": os.cpu_count(),
        "chaoslab_timing": chaoslab_timing,
        "chaoslab_up_args": list(TIMINGS[chaoslab_timing]),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "etcd": None if etcd_binary is None else {
            "version": _etcd_version(etcd_binary), "heartbeat_ms": HEARTBEAT_MS,
            "election_ms": ELECTION_MS, "api": "gRPC (etcdserverpb.KV Put/Range)"},
        "note": "servers and load generator share this machine's cores",
    }
    points: list[PointResult] = []
    failovers: list[FailoverResult] = []
    idles: list[IdleResult] = []
    profiles: dict[str, ProfileSummary] = {}
    for system in systems:
        cluster: EtcdCluster | ChaoslabCluster = (
            EtcdCluster(binary=etcd_binary) if system == "etcd" and etcd_binary
            else ChaoslabCluster(up_args=TIMINGS[chaoslab_timing]))
        try:
            cluster.start()
            measured, failover, idle, sampled = _measure(
                cluster, clients=() if skip_load else clients,
                read_clients=0 if skip_load else read_clients, duration=duration,
                warmup=warmup, procs=load_procs, keys=keys, value_size=value_size, seed=seed,
                trials=0 if skip_failover else trials, idle_s=idle_s, profile_dir=profile_dir)
        finally:
            cluster.stop()
        points.extend(measured)
        profiles |= sampled
        if idle is not None:
            idles.append(idle)
        if failover is not None:
            failovers.append(failover)
    doc = report.document(settings=settings, points=points, failovers=failovers, idles=idles,
                          profiles=profiles)
    if out is not None:
        out.write_text(json.dumps(doc, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(doc))
        return
    print_report(doc, points, failovers, idles, profiles)


def print_report(doc: dict[str, Any], points: Sequence[PointResult],
                 failovers: Sequence[FailoverResult], idles: Sequence[IdleResult] = (),
                 profiles: dict[str, ProfileSummary] | None = None) -> None:
    """Print the tables of one run (and which points the load generator may have limited)."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, REPORT_WIDTH)
    settings = doc["settings"]
    if points:
        console.print(report.points_table(
            points, title=f"KV throughput / latency ({settings['duration_s']:g} s per point, "
            f"{settings['keys']} keys, {settings['value_size']} B values, "
            f"{settings['cpus']} cores shared by servers and load)"))
    if failovers:
        table = report.failover_table(failovers)
        table.caption = (f"chaoslab Raft timing: {settings['chaoslab_timing']} "
                         f"{' '.join(settings['chaoslab_up_args'])}".rstrip()
                         + f"; etcd: heartbeat {HEARTBEAT_MS} ms, election {ELECTION_MS} ms")
        console.print(table)
    if idles:
        console.print(report.idle_table(idles))
    for name, summary in (profiles or {}).items():
        console.print(report.profile_table(name, summary))
    found = report.verdicts(points, failovers, idles)
    if found:
        console.print(report.verdict_table(found))
    for busy in doc["loader_busy"]:
        console.print(f"[yellow]load generator near a full core at {busy}: "
                      "the figure may be the generator's limit[/yellow]")
