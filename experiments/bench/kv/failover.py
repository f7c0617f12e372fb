"""Failover trials: SIGKILL the leader, time the first write that succeeds after it.

Rules: a prober writes open-loop through the survivors only: every ``interval``
it starts a new put (each with its own client slot, one operation outstanding
per slot, each with a short deadline), so a write stuck on the dead leader never
hides a later one that would succeed. The failover time of a trial is the
completion of the earliest successful put *invoked after* the kill, minus the
kill instant. Between trials the killed member is restarted and the cluster
must be healthy again. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import structlog

from experiments.bench.kv.connect import open_pool
from experiments.bench.kv.stats import median
from experiments.bench.kv.target import Cluster, ClusterError, OperationFailed, TargetSpec

log = structlog.get_logger()

HEALTH_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeSettings:
    """How the prober writes.

    Attributes:
        interval_s: a new put starts this often.
        attempt_timeout_s: deadline of one put.
        limit_s: a trial with no successful write this long after the kill failed.
        warm_s: the prober writes this long before the kill (steady state).
    """

    interval_s: float = 0.01
    attempt_timeout_s: float = 1.0
    limit_s: float = 10.0
    warm_s: float = 0.5

    @property
    def slots(self) -> int:
        """Most puts that can be outstanding at once."""
        return int(self.attempt_timeout_s / self.interval_s) + 2


@dataclass(frozen=True, slots=True, kw_only=True)
class FailoverResult:
    """All trials of one system.

    Attributes:
        system: the store measured.
        trials_ms: failover time of each trial, None where it exceeded the limit.
        median_ms: median of the successful trials (None if none succeeded).
        max_ms: worst successful trial (None if none succeeded).
        failed: trials with no successful write within the limit.
    """

    system: str
    trials_ms: tuple[float | None, ...]
    median_ms: float | None
    max_ms: float | None
    failed: int


def summarize_trials(system: str, trials_ms: tuple[float | None, ...]) -> FailoverResult:
    """Median / max over the trials that recovered (pure)."""
    done = [t for t in trials_ms if t is not None]
    return FailoverResult(system=system, trials_ms=trials_ms,
                          median_ms=median(done) if done else None,
                          max_ms=max(done) if done else None,
                          failed=len(trials_ms) - len(done))


@dataclass(slots=True)
class _Probe:
    kill_ns: int | None = None
    first_ok_ns: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def _attempt(client_put: Callable[[], Awaitable[None]], probe: _Probe, slot: int,
                   free: list[int]) -> None:
    began = time.perf_counter_ns()
    try:
        await client_put()
    except OperationFailed:
        return
    finally:
        free.append(slot)
    ended = time.perf_counter_ns()
    if probe.kill_ns is not None and began >= probe.kill_ns:
        if probe.first_ok_ns is None or ended < probe.first_ok_ns:
            probe.first_ok_ns = ended
        probe.done.set()


async def _probe_kill(cluster: Cluster, leader: int, settings: ProbeSettings) -> float | None:
    survivors = tuple(a for i, a in enumerate(cluster.addresses) if i != leader)
    pool = open_pool(TargetSpec(system=cluster.system, addresses=survivors,
                                timeout_s=settings.attempt_timeout_s))
    probe = _Probe()
    free = list(range(settings.slots))
    tasks: set[asyncio.Task[None]] = set()

    def launch() -> None:
        if not free:
            return
        slot = free.pop()
        client = pool.client(slot)
        task = asyncio.create_task(_attempt(
            lambda: client.put(f"bench-failover-{slot:03d}", "x" * 100), probe, slot, free))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def run_prober(until_ns: int) -> None:
        while time.perf_counter_ns() < until_ns and not probe.done.is_set():
            launch()
            await asyncio.sleep(settings.interval_s)

    try:
        # Warm every slot's connection, then write steadily before the kill.
        warm = [pool.client(s).put(f"bench-failover-{s:03d}", "w") for s in range(settings.slots)]
        await asyncio.gather(*warm, return_exceptions=True)
        await run_prober(time.perf_counter_ns() + int(settings.warm_s * 1e9))
        probe.kill_ns = time.perf_counter_ns()
        # Synchronous on purpose: no probe may start before the signal is sent. Reaping
        # blocks the prober for a few ms, far less than any election takes.
        cluster.kill(leader)
        await run_prober(probe.kill_ns + int(settings.limit_s * 1e9))
        if not probe.done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(probe.done.wait(), settings.attempt_timeout_s)
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pool.close()
    if probe.first_ok_ns is None:
        return None
    return (probe.first_ok_ns - probe.kill_ns) / 1e6


def run_failover(cluster: Cluster, *, trials: int,
                 settings: ProbeSettings | None = None) -> FailoverResult:
    """Kill the leader ``trials`` times (restarting it in between); time each recovery.

    Args:
        cluster: a healthy running cluster.
        trials: how many kills.
        settings: prober settings (defaults: 10 ms interval, 1 s attempts, 10 s limit).

    Returns:
        Each trial's failover time and their median / max.

    Raises:
        ClusterError: if the cluster does not become healthy again after a restart.
    """
    settings = settings or ProbeSettings()
    results: list[float | None] = []
    for trial in range(trials):
        cluster.wait_healthy(HEALTH_TIMEOUT_S)
        leader = cluster.leader()
        elapsed = asyncio.run(_probe_kill(cluster, leader, settings))
        log.info("failover_trial", system=cluster.system, trial=trial, killed=leader,
                 failover_ms=None if elapsed is None else round(elapsed, 1))
        results.append(elapsed)
        cluster.restart(leader)
    try:
        cluster.wait_healthy(HEALTH_TIMEOUT_S)
    except ClusterError:
        log.warning("cluster_unhealthy_after_failover", system=cluster.system)
        raise
    return summarize_trials(cluster.system, tuple(results))
