"""One simulated run: a cluster, clients, a fault schedule, a checked history.

Rules: everything is derived from ``(spec, seed)``; the same pair gives a
byte-identical history. The run is bounded: clients stop at
``spec.duration_s``, and the clock stops once every operation completed or
its deadline passed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from experiments.checkers import check_linearizable
from experiments.checkers.result import CheckResult
from experiments.history import Op
from experiments.schedule import NemesisKind, Schedule, generate
from experiments.sim.bugs import BUGS
from experiments.sim.clients import HistoryRecorder, SimClients
from experiments.sim.cluster import NodeVariant, SimCluster, SimTiming
from experiments.sim.events import NS_PER_S, Scheduler
from experiments.sim.nemesis import SimNemesis
from experiments.workload import WorkloadSpec

ALL_NEMESES: tuple[NemesisKind, ...] = tuple(NemesisKind)
"""Every fault the simulator can inject."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSpec:
    """What to simulate. Times in simulated seconds."""

    nodes: int = 5
    duration_s: float = 30.0
    recovery_s: float = 8.0
    """The quiet tail after the last fault; liveness is judged in it."""
    liveness_bound_s: float = 5.0
    """After the last heal, a write must succeed within this long."""
    nemeses: tuple[NemesisKind, ...] = ALL_NEMESES
    bug: str | None = None
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)
    timing: SimTiming = field(default_factory=SimTiming)
    check_time_limit_s: float = 30.0

    def __post_init__(self) -> None:
        if self.nodes < 1:
            msg = f"nodes must be at least 1, got {self.nodes}"
            raise ValueError(msg)
        if self.bug is not None and self.bug not in BUGS:
            msg = f"unknown bug {self.bug!r}; known: {', '.join(sorted(BUGS))}"
            raise ValueError(msg)
        if not 0 < self.liveness_bound_s <= self.recovery_s < self.duration_s:
            msg = (
                "need 0 < liveness_bound_s <= recovery_s < duration_s, got "
                f"{self.liveness_bound_s}, {self.recovery_s}, {self.duration_s}"
            )
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """The outcome of one seed."""

    seed: int
    history: tuple[Op, ...]
    schedule: Schedule
    linearizable: CheckResult
    live: bool
    """A leader existed at the end and a write succeeded within the bound after the heal."""
    boot_failures: tuple[str, ...]
    """Nodes whose storage refused to restart (never happens with correct storage)."""
    recovery_s: float | None
    """Seconds from the last heal to the first completed write (None: none completed)."""
    stats: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Linearizable (``unknown`` counts as not ok: nothing unproven passes), live, and
        every node could restart."""
        return self.linearizable.valid is True and self.live and not self.boot_failures


def _recovery(history: tuple[Op, ...], heal_ns: int) -> float | None:
    """Seconds from the heal to the first write executed through the log after it."""
    for op in history:
        if op.time < heal_ns or op.process == "nemesis" or op.f == "read":
            continue
        executed = op.type == "ok" or (op.type == "fail" and op.error == "mismatch")
        if executed:
            return (op.time - heal_ns) / NS_PER_S
    return None


def run_seed(spec: SimSpec, seed: int) -> SimResult:
    """Simulate one seed and check its history.

    Args:
        spec: the run's shape.
        seed: the seed every random stream derives from.

    Returns:
        The history, the verdicts and counters.
    """
    bug = BUGS[spec.bug] if spec.bug else None
    variant = bug.variant if bug else NodeVariant()
    scheduler = Scheduler()
    cluster = SimCluster(spec.nodes, seed, scheduler, timing=spec.timing, variant=variant)
    schedule = generate(
        random.Random(f"{seed}:schedule"),
        spec.nemeses,
        duration_s=spec.duration_s,
        recovery_s=spec.recovery_s,
    )
    history = HistoryRecorder()
    stop_at = int(spec.duration_s * NS_PER_S)
    clients = SimClients(
        cluster, spec.workload, random.Random(f"{seed}:clients"), history, stop_at=stop_at
    )
    SimNemesis(cluster, schedule, random.Random(f"{seed}:nemesis"), history).start()
    clients.start()
    scheduler.run_until(stop_at)
    grace = int(spec.workload.timeout_ms * 1_000_000) + NS_PER_S
    scheduler.run_until(stop_at + grace)
    ops = tuple(history.ops)
    heal_ns = int(schedule.heal_s * NS_PER_S)
    recovery = _recovery(ops, heal_ns)
    live = (
        cluster.leader() is not None
        and recovery is not None
        and recovery <= spec.liveness_bound_s
    )
    verdict = check_linearizable(ops, time_limit=spec.check_time_limit_s)
    stats = {
        "operations": sum(1 for op in ops if op.type == "invoke"),
        "ok": sum(1 for op in ops if op.type == "ok"),
        "fail": sum(1 for op in ops if op.type == "fail"),
        "info": sum(1 for op in ops if op.type == "info" and op.process != "nemesis"),
        "faults": len(schedule.faults),
        "messages": cluster.network.stats.sent,
        "crashes": cluster.crashes,
        "boot_failures": len(cluster.boot_failures),
        "outstanding": clients.outstanding,
    }
    return SimResult(
        seed=seed,
        history=ops,
        schedule=schedule,
        linearizable=verdict,
        live=live,
        boot_failures=tuple(cluster.boot_failures),
        recovery_s=recovery,
        stats=stats,
    )
