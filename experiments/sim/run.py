"""One simulated seed of ``chaoslab sim``: the runner on the ``sim`` backend, with a
fault schedule drawn from the seed, judged for linearizability, liveness and Raft's
invariants.

Rules: everything is derived from ``(spec, seed)``; the same pair gives a
byte-identical history. The clients, the nemesis and the history are the runner's
(``experiments.runner``), the same as on real clusters; only the schedule's shape (quiet
gaps of 1-3 s, faults of 2-6 s, drawn from the default mix: every simulator nemesis, the
aimed ones weighted up, see ``DEFAULT_WEIGHTS``) is this command's.
The run is bounded by its event budget (``experiments.backends.sim.MAX_EVENTS_PER_SIMULATED_S``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from experiments.backends.sim import SimBackend
from experiments.checkers import check_linearizable
from experiments.checkers.result import CheckResult
from experiments.history import Op
from experiments.runner import analysis
from experiments.runner.api import execute_plan
from experiments.runner.plan import RunPlan
from experiments.schedule import (
    SIMULATOR_KINDS,
    SIMULATOR_WEIGHTS,
    NemesisKind,
    Schedule,
    check_weights,
    generate,
)
from experiments.sim.bugs import BUGS
from experiments.sim.cluster import NodeVariant, SimTiming
from experiments.sim.events import NS_PER_S
from experiments.spec.model import Experiment
from experiments.workload import WorkloadSpec

ALL_NEMESES: tuple[NemesisKind, ...] = SIMULATOR_KINDS
"""Every fault the simulator can inject."""
DEFAULT_WEIGHTS: tuple[float, ...] = tuple(
    SIMULATOR_WEIGHTS.get(kind, 1.0) for kind in ALL_NEMESES
)
"""The default mix: how often each of ``ALL_NEMESES`` is drawn (a kind that
``SIMULATOR_WEIGHTS`` does not list weighs 1, as a plain fault). The faults aimed at
protocol moments (crash points inside ``restarts``, ``partition-leader-rolling``,
``leader-churn``) and ``latency`` (their best partner in a composed window) are drawn
more often than the rest, so a sweep that knows nothing of the bug it hunts still
finds every seeded one (README, "Seeds to detection")."""
DEFAULT_COMPOSE = 0.25
"""How often a fault window also holds a fault of another category (see ``generate``),
for nemeses named one by one."""
DEFAULT_MIX_COMPOSE = 0.8
"""The default mix's composition: most windows pair two faults, above all restarts
with rolling leader isolation (a voter that forgets is asked again in the same term) or
with latency."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSpec:
    """What to simulate. Times in simulated seconds. The defaults are ``chaoslab sim``'s
    default mix (every nemesis, weighted, mostly composed)."""

    nodes: int = 5
    duration_s: float = 30.0
    recovery_s: float = 8.0
    """The quiet tail after the last fault; liveness is judged in it."""
    liveness_bound_s: float = 5.0
    """After the last heal, a write must succeed within this long."""
    nemeses: tuple[NemesisKind, ...] = ALL_NEMESES
    weights: tuple[float, ...] | None = DEFAULT_WEIGHTS
    """How often each of ``nemeses`` is drawn, relative to the others (None: all
    equally often). Give ``weights=None`` (or new weights) with new ``nemeses``."""
    compose: float = DEFAULT_MIX_COMPOSE
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
        if self.weights is not None and len(self.weights) != len(self.nemeses):
            msg = (
                f"weights: expected one per nemesis ({len(self.nemeses)}), got "
                f"{len(self.weights)}; pass weights=None to draw the nemeses equally often"
            )
            raise ValueError(msg)
        if self.weights is not None:
            check_weights(self.nemeses, self.weights)
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


def experiment_of(spec: SimSpec) -> Experiment:
    """The runner's experiment for a ``SimSpec`` (its faults come from ``schedule_of``)."""
    workload = spec.workload
    think_s = workload.think_ms / 1000
    return Experiment.model_validate(
        {
            "name": "sim",
            "cluster": {
                "nodes": spec.nodes,
                "timing": {
                    "tick": spec.timing.tick_ms / 1000,
                    "election-ticks": spec.timing.election_tick,
                    "heartbeat-ticks": spec.timing.heartbeat_tick,
                },
            },
            "workload": {
                "clients": workload.processes,
                "keys": workload.keys,
                "rate": workload.processes / think_s if think_s > 0 else 100_000,
                "mix": {
                    "read": workload.read_weight,
                    "write": workload.write_weight,
                    "cas": workload.cas_weight,
                },
                "routing": "any",
                "timeout": workload.timeout_ms / 1000,
                "final-reads": False,
            },
            "duration": spec.duration_s,
            "expect": {"linearizable": True},
        }
    )


def schedule_of(spec: SimSpec, seed: int) -> Schedule:
    """The seed's fault schedule (without weights, the same draws as ever)."""
    return generate(
        random.Random(f"{seed}:schedule"),
        spec.nemeses,
        duration_s=spec.duration_s,
        recovery_s=spec.recovery_s,
        compose=spec.compose,
        weights=spec.weights,
    )


def run_seed(spec: SimSpec, seed: int, *, variant: NodeVariant | None = None) -> SimResult:
    """Simulate one seed through the runner and check its history.

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
    schedule = schedule_of(spec, seed)
    plan = RunPlan(experiment=experiment_of(spec), seed=seed, faults=schedule.faults)
    backend = SimBackend(spec.nodes, seed, timing=spec.timing, variant=variant, forward=False)
    engine, failure, _ = execute_plan(plan, backend)
    ops = tuple(engine.record.ops)
    heal_ns = int(schedule.heal_s * NS_PER_S) if schedule.faults else None
    recovery = analysis.recovery_s(ops, heal_ns if heal_ns is not None else 0)
    cluster = backend.sim
    runaway = backend.runaway
    leader = None if cluster is None else cluster.leader()
    live = (
        failure is None
        and not runaway
        and leader is not None
        and recovery is not None
        and recovery <= spec.liveness_bound_s
    )
    verdict = check_linearizable(ops, time_limit=spec.check_time_limit_s)
    invariants = () if cluster is None else tuple(cluster.invariants.violations)
    boot_failures = () if cluster is None else tuple(cluster.boot_failures)
    stats = {
        "operations": sum(1 for op in ops if op.type == "invoke" and op.process != "nemesis"),
        "ok": sum(1 for op in ops if op.type == "ok"),
        "fail": sum(1 for op in ops if op.type == "fail"),
        "info": sum(1 for op in ops if op.type == "info" and op.process != "nemesis"),
        "faults": len(schedule.faults),
        "boot_failures": len(boot_failures),
        "invariant_violations": 0 if cluster is None
        else len(cluster.invariants.violations) + cluster.invariants.dropped,
        "simulated_s": round(backend.scheduler.now / NS_PER_S, 3),
        **({} if cluster is None else backend.stats()),
    }
    return SimResult(
        seed=seed,
        history=ops,
        schedule=schedule,
        linearizable=verdict,
        live=live,
        boot_failures=boot_failures,
        invariants=invariants,
        recovery_s=recovery,
        stats=stats,
        runaway=runaway,
    )
