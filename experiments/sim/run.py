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
MAX_EVENTS_PER_SIMULATED_S = 10_000
"""A run's event budget per simulated second (a healthy 5-node run uses about 2,000):
past it the run is stopped and fails as a runaway (e.g. two nodes bouncing messages
forever over a log a seeded bug corrupted)."""
DEFAULT_COMPOSE = 0.25
"""How often a fault window also holds a fault of another category (see ``generate``)."""


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
    compose: float = DEFAULT_COMPOSE
    """The probability that a fault window holds two faults of different categories."""
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
        if not 0.0 <= self.compose <= 1.0:
            msg = f"compose must be a probability in [0, 1], got {self.compose}"
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
    invariants: tuple[str, ...]
    """Violations of Raft's Election Safety or State Machine Safety seen inside the nodes
    (the first few; ``stats["invariant_violations"]`` counts them all)."""
    recovery_s: float | None
    """Seconds from the last heal to the first completed write (None: none completed)."""
    stats: dict[str, Any]
    runaway: bool = False
    """The run spun past its event budget and was stopped early (a failure)."""

    @property
    def ok(self) -> bool:
        """Linearizable (``unknown`` counts as not ok: nothing unproven passes), live,
        every node could restart, and no Raft safety property was broken inside."""
        return (
            self.linearizable.valid is True
            and not self.runaway
            and self.live
            and not self.boot_failures
            and not self.invariants
        )


def _recovery(history: tuple[Op, ...], heal_ns: int) -> float | None:
    """Seconds from the heal to the first write executed through the log after it."""
    for op in history:
        if op.time < heal_ns or op.process == "nemesis" or op.f == "read":
            continue
        executed = op.type == "ok" or (op.type == "fail" and op.error == "mismatch")
        if executed:
            return (op.time - heal_ns) / NS_PER_S
    return None


def run_seed(spec: SimSpec, seed: int, *, variant: NodeVariant | None = None) -> SimResult:
    """Simulate one seed and check its history.

    Args:
        spec: the run's shape.
        seed: the seed every random stream derives from.
        variant: how to build the nodes, for experiments and control runs; by
            default the production node, or the seeded bug's variant.

    Returns:
        The history, the verdicts and counters.
    """
    if variant is None:
        variant = BUGS[spec.bug].variant if spec.bug else NodeVariant()
    scheduler = Scheduler()
    cluster = SimCluster(spec.nodes, seed, scheduler, timing=spec.timing, variant=variant)
    schedule = generate(
        random.Random(f"{seed}:schedule"),
        spec.nemeses,
        duration_s=spec.duration_s,
        recovery_s=spec.recovery_s,
        compose=spec.compose,
    )
    history = HistoryRecorder()
    stop_at = int(spec.duration_s * NS_PER_S)
    clients = SimClients(
        cluster, spec.workload, random.Random(f"{seed}:clients"), history, stop_at=stop_at
    )
    SimNemesis(cluster, schedule, random.Random(f"{seed}:nemesis"), history).start()
    clients.start()
    grace = int(spec.workload.timeout_ms * 1_000_000) + NS_PER_S
    end = stop_at + grace
    budget = int(end / NS_PER_S * MAX_EVENTS_PER_SIMULATED_S)
    runaway = not scheduler.run_until(end, max_events=budget)
    ops = tuple(history.ops)
    heal_ns = int(schedule.heal_s * NS_PER_S)
    recovery = _recovery(ops, heal_ns)
    live = (
        not runaway
        and cluster.leader() is not None
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
        "snapshots_taken": sum(
            node.replica.stats.snapshots_taken
            for node in cluster.nodes.values()
            if node.replica is not None
        ),
        "boot_failures": len(cluster.boot_failures),
        "invariant_violations": len(cluster.invariants.violations) + cluster.invariants.dropped,
        "outstanding": clients.outstanding,
        "events": scheduler.events,
        "simulated_s": round(scheduler.now / NS_PER_S, 3),
    }
    return SimResult(
        seed=seed,
        history=ops,
        schedule=schedule,
        linearizable=verdict,
        live=live,
        boot_failures=tuple(cluster.boot_failures),
        invariants=tuple(cluster.invariants.violations),
        recovery_s=recovery,
        stats=stats,
        runaway=runaway,
    )
