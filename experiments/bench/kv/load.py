"""The closed-loop load generator: asyncio workers in their own processes.

Rules: each load process (``spawn``-ed, so it shares nothing with the parent
but its arguments) runs an asyncio loop with its share of the workers; every
worker is one logical client that issues one operation at a time for the whole
window. Processes start together at a barrier; each reports its latencies and
its own CPU time, so the report can tell whether the generator was the
bottleneck. Every loop is bounded by the window and an operation count.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import random
import resource
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import structlog

from experiments.bench.kv.connect import open_pool
from experiments.bench.kv.stats import LatencySummary, summarize_ns
from experiments.bench.kv.target import KvClient, OperationFailed, ReadMode, TargetSpec
from experiments.errors import BackendFailure

log = structlog.get_logger()

Operation = Literal["put", "get"]
MAX_OPS_PER_WORKER: Final = 10_000_000
ERROR_PAUSE_S: Final = 0.005
_START_TIMEOUT_S: Final = 120.0
_REPORT_GRACE_S: Final = 30.0


class LoadError(BackendFailure, RuntimeError):
    """A load process died or did not report (the message says which and how)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSpec:
    """One measurement point.

    Attributes:
        target: the cluster to load.
        op: ``put`` or ``get``.
        mode: read consistency for gets.
        clients: concurrent logical clients (workers), spread over all members.
        duration_s: the measured window.
        warmup_s: load before the window that is not measured.
        keys: keys are drawn uniformly from ``bench-0000`` .. ``bench-{keys-1}``.
        value_size: bytes (ASCII characters) per written value.
        seed: seeds each worker's key choice (worker ``w`` uses ``seed * 1000003 + w``).
    """

    target: TargetSpec
    op: Operation
    mode: ReadMode = "linearizable"
    clients: int
    duration_s: float
    warmup_s: float = 1.0
    keys: int = 1000
    value_size: int = 100
    seed: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardResult:
    """What one load process measured.

    Attributes:
        ok: operations that succeeded inside the window.
        errors: operations that failed inside the window.
        latencies_ns: latency of each successful operation in the window.
        cpu_s: user + system CPU of the process over warmup and window.
        wall_s: wall time of warmup and window.
        first_error: the first failure's message, if any.
    """

    ok: int
    errors: int
    latencies_ns: tuple[int, ...]
    cpu_s: float
    wall_s: float
    first_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PointResult:
    """One measurement point, all load processes together.

    Attributes:
        system: the store measured.
        workload: ``put``, ``get`` (linearizable) or ``get-local`` (serializable / stale).
        clients: concurrent clients.
        ok: successful operations in the window.
        errors: failed operations in the window.
        window_s: the measured window.
        throughput: successful operations per second.
        latency: latency of the successful operations (None if there were none).
        loader_cpu: CPU the load processes used, in cores (1.0 = one core busy).
        loader_procs: how many load processes ran.
        server_cpu: CPU the cluster's processes used during the window, in cores.
        first_error: a sample failure message.
    """

    system: str
    workload: str
    clients: int
    ok: int
    errors: int
    window_s: float
    throughput: float
    latency: LatencySummary | None
    loader_cpu: float
    loader_procs: int
    server_cpu: float | None
    first_error: str | None


def workload_name(op: Operation, mode: ReadMode) -> str:
    """``put``, ``get`` or ``get-local``."""
    if op == "put":
        return "put"
    return "get" if mode == "linearizable" else "get-local"


def shard_workers(clients: int, procs: int) -> list[list[int]]:
    """Deal worker indexes round-robin to ``procs`` load processes (none left empty).

    Returns:
        One list of worker indexes per process actually needed.
    """
    procs = max(1, min(procs, clients))
    return [list(range(shard, clients, procs)) for shard in range(procs)]


def combine(spec: LoadSpec, shards: Sequence[ShardResult], *,
            server_cpu: float | None) -> PointResult:
    """Merge the load processes' reports into one point (pure)."""
    latencies = [lat for shard in shards for lat in shard.latencies_ns]
    ok = sum(shard.ok for shard in shards)
    errors = [shard.first_error for shard in shards if shard.first_error]
    return PointResult(
        system=spec.target.system,
        workload=workload_name(spec.op, spec.mode),
        clients=spec.clients,
        ok=ok,
        errors=sum(shard.errors for shard in shards),
        window_s=spec.duration_s,
        throughput=ok / spec.duration_s,
        latency=summarize_ns(latencies),
        loader_cpu=sum(shard.cpu_s / shard.wall_s for shard in shards if shard.wall_s > 0),
        loader_procs=len(shards),
        server_cpu=server_cpu,
        first_error=errors[0] if errors else None,
    )


def _value(size: int, rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(size))


@dataclass(slots=True)
class _Tally:
    ok: int = 0
    errors: int = 0
    first_error: str | None = None


async def _worker(client: KvClient, spec: LoadSpec, worker: int, window: tuple[int, int],
                  tally: _Tally, latencies: list[int]) -> None:
    rng = random.Random(spec.seed * 1_000_003 + worker)
    value = _value(spec.value_size, rng)
    start_ns, end_ns = window
    for _ in range(MAX_OPS_PER_WORKER):
        began = time.perf_counter_ns()
        if began >= end_ns:
            return
        key = f"bench-{rng.randrange(spec.keys):04d}"
        failure: str | None = None
        try:
            if spec.op == "put":
                await client.put(key, value)
            else:
                await client.get(key, spec.mode)
        except OperationFailed as error:
            failure = str(error)
        ended = time.perf_counter_ns()
        if began < start_ns or ended > end_ns:
            if failure is not None:
                await asyncio.sleep(ERROR_PAUSE_S)
            continue
        if failure is None:
            tally.ok += 1
            latencies.append(ended - began)
        else:
            tally.errors += 1
            tally.first_error = tally.first_error or failure
            await asyncio.sleep(ERROR_PAUSE_S)


async def _run_shard(spec: LoadSpec, workers: Sequence[int], barrier: Any) -> ShardResult:
    pool = open_pool(spec.target)
    try:
        await asyncio.to_thread(barrier.wait, _START_TIMEOUT_S)
        cpu0 = _cpu_seconds()
        wall0 = time.perf_counter_ns()
        start_ns = wall0 + int(spec.warmup_s * 1e9)
        end_ns = start_ns + int(spec.duration_s * 1e9)
        tally = _Tally()
        latencies: list[int] = []
        await asyncio.gather(*(_worker(pool.client(w), spec, w, (start_ns, end_ns), tally,
                                       latencies) for w in workers))
        cpu_s = _cpu_seconds() - cpu0
        wall_s = (time.perf_counter_ns() - wall0) / 1e9
    finally:
        await pool.close()
    return ShardResult(ok=tally.ok, errors=tally.errors, latencies_ns=tuple(latencies),
                       cpu_s=cpu_s, wall_s=wall_s, first_error=tally.first_error)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _shard_main(spec: LoadSpec, workers: list[int], barrier: Any, results: Any) -> None:
    """Entry point of one load process: run, then put the ShardResult (or an error text)."""
    try:
        results.put(asyncio.run(_run_shard(spec, workers, barrier)))
    except BaseException as error:  # report anything: the parent is waiting
        results.put(f"load process {os.getpid()}: {type(error).__name__}: {error}")
        raise


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far, from /proc (None if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _total_cpu(pids: Sequence[int]) -> float:
    return sum(cpu for pid in pids if (cpu := process_cpu_seconds(pid)) is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleResult:
    """CPU of a cluster with an elected leader and no load.

    Attributes:
        system: the store measured.
        window_s: how long it was watched.
        nodes: how many server processes were watched.
        cores_per_node: their CPU over the window, per process, in cores.
    """

    system: str
    window_s: float
    nodes: int
    cores_per_node: float


class _HasPids(Protocol):
    @property
    def system(self) -> str: ...

    def server_pids(self) -> Sequence[int]: ...


def measure_idle(cluster: _HasPids, window_s: float) -> IdleResult:
    """Watch an idle cluster's processes for ``window_s`` (blocks) and report their CPU."""
    pids = list(cluster.server_pids())
    cpu0 = _total_cpu(pids)
    time.sleep(window_s)
    used = _total_cpu(pids) - cpu0
    return IdleResult(system=cluster.system, window_s=window_s, nodes=len(pids),
                      cores_per_node=used / window_s / max(1, len(pids)))


def run_point(spec: LoadSpec, *, procs: int, server_pids: Sequence[int] = ()) -> PointResult:
    """Measure one point with ``procs`` load processes (blocks for warmup + window).

    Args:
        spec: what to measure.
        procs: load processes to spread the workers over.
        server_pids: the cluster's processes, to report their CPU over the window.

    Returns:
        The merged measurement.

    Raises:
        LoadError: if a load process fails or does not report in time.
    """
    context = multiprocessing.get_context("spawn")
    shards = shard_workers(spec.clients, procs)
    barrier = context.Barrier(len(shards) + 1)
    results = context.Queue()
    processes = [context.Process(target=_shard_main, args=(spec, workers, barrier, results),
                                 name=f"bench-load-{i}", daemon=True)
                 for i, workers in enumerate(shards)]
    for process in processes:
        process.start()
    try:
        barrier.wait(_START_TIMEOUT_S)
        time.sleep(spec.warmup_s)
        cpu0 = _total_cpu(server_pids)
        time.sleep(spec.duration_s)
        server_cpu = (_total_cpu(server_pids) - cpu0) / spec.duration_s if server_pids else None
        collected: list[ShardResult] = []
        deadline = time.monotonic() + spec.target.timeout_s + _REPORT_GRACE_S
        while len(collected) < len(shards):
            try:
                item = results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                msg = f"{len(shards) - len(collected)} load process(es) did not report"
                raise LoadError(msg) from None
            if isinstance(item, str):
                raise LoadError(item)
            collected.append(item)
    except threading.BrokenBarrierError:
        msg = "a load process failed to start (see its log above)"
        raise LoadError(msg) from None
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    return combine(spec, collected, server_cpu=server_cpu)
