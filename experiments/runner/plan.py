"""From an experiment and a seed to what a run will do: the fault schedule and the workload.

Rules: pure, no IO; randomness only from ``random.Random`` seeded with the run's seed, so a
seed always gives the same schedule on every backend. A random nemesis is written out as
the fixed schedule it produced (``resolved_experiment``), which replays the run anywhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from experiments.schedule import FaultSpec, NemesisKind, Schedule, generate
from experiments.spec.model import Experiment, FaultStep, RandomNemesis
from experiments.workload import WorkloadSpec as GeneratorSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    """One run: the experiment, its seed, its fault windows and its operation generator."""

    experiment: Experiment
    seed: int
    faults: tuple[FaultSpec, ...]

    @property
    def duration_s(self) -> float:
        """The whole run (recovery tail included)."""
        return self.experiment.duration

    @property
    def heal_s(self) -> float:
        """When the last fault ends (0 without faults)."""
        return max((f.end_s for f in self.faults), default=0.0)

    def generator_spec(self) -> GeneratorSpec:
        """The operation generator's settings (``experiments.workload``)."""
        workload = self.experiment.workload
        think_s = workload.clients / workload.rate
        return GeneratorSpec(
            processes=workload.clients,
            keys=workload.keys,
            read_weight=workload.mix.read,
            write_weight=workload.mix.write,
            cas_weight=workload.mix.cas,
            think_ms=think_s * 1000,
            timeout_ms=workload.timeout * 1000,
        )


def fault_of(step: FaultStep) -> FaultSpec:
    """A fixed schedule's step as a ``FaultSpec`` (unset parameters take their defaults)."""
    defaults = FaultSpec(kind=step.fault, at_s=step.at, duration_s=step.for_)
    kind = step.fault
    ms, rate = step.ms, step.rate
    return FaultSpec(
        kind=kind,
        at_s=step.at,
        duration_s=step.for_,
        loss=defaults.loss if step.p is None else step.p,
        latency_ms=defaults.latency_ms if ms is None or kind is not NemesisKind.LATENCY
        else ms,
        jitter_ms=defaults.jitter_ms if step.jitter is None else step.jitter,
        rate_kbps=defaults.rate_kbps if rate is None or kind is not NemesisKind.BANDWIDTH
        else int(rate),
        target=step.target or defaults.target,
        groups=tuple(tuple(g) for g in step.groups or ()),
        mode=step.mode or defaults.mode,
        clock_rate=defaults.clock_rate if rate is None or kind is not NemesisKind.CLOCK_SKEW
        else rate,
        clock_jump_ms=defaults.clock_jump_ms if ms is None or kind is not NemesisKind.CLOCK_JUMP
        else ms,
        disk_delay_ms=defaults.disk_delay_ms if ms is None or kind is not NemesisKind.DISK_SLOW
        else ms,
    )


def step_of(spec: FaultSpec) -> FaultStep:
    """The inverse of ``fault_of``: how a fault is written in a resolved experiment."""
    kind = spec.kind
    fields: dict[str, object] = {"at": spec.at_s, "fault": kind, "for": spec.duration_s}
    if kind in (NemesisKind.KILL, NemesisKind.PAUSE) or kind.in_node:
        fields["target"] = spec.target
    elif kind is NemesisKind.PARTITION:
        fields["groups"] = spec.groups
    elif kind is NemesisKind.LATENCY:
        fields |= {"ms": spec.latency_ms, "jitter": spec.jitter_ms}
    elif kind is NemesisKind.LOSS:
        fields["p"] = spec.loss
    elif kind is NemesisKind.BANDWIDTH:
        fields["rate"] = spec.rate_kbps
    if kind is NemesisKind.CLOCK_SKEW:
        fields["rate"] = spec.clock_rate
    elif kind is NemesisKind.CLOCK_JUMP:
        fields["ms"] = spec.clock_jump_ms
    elif kind is NemesisKind.DISK_SLOW:
        fields["ms"] = spec.disk_delay_ms
    if kind.is_partition and spec.mode != "drop":
        fields["mode"] = spec.mode
    return FaultStep.model_validate(fields)


def random_schedule(nemesis: RandomNemesis, duration_s: float, seed: int) -> Schedule:
    """The windows a random nemesis draws for ``seed``: one fault of ``for`` every ``every``
    (the first after ``every - for`` of quiet), none in the last ``recovery``."""
    quiet = nemesis.every - nemesis.for_
    return generate(
        random.Random(f"{seed}:schedule"),
        nemesis.random,
        duration_s=duration_s,
        recovery_s=nemesis.recovery,
        quiet_s=(quiet, quiet),
        fault_s=(nemesis.for_, nemesis.for_),
        compose=nemesis.compose,
    )


def plan_run(experiment: Experiment, seed: int) -> RunPlan:
    """The plan of ``experiment`` run with ``seed``."""
    nemesis = experiment.nemesis
    if isinstance(nemesis, RandomNemesis):
        faults = random_schedule(nemesis, experiment.duration, seed).faults
    else:
        faults = tuple(fault_of(step) for step in nemesis)
    return RunPlan(experiment=experiment, seed=seed, faults=faults)


def resolved_experiment(plan: RunPlan, backend: str) -> Experiment:
    """The experiment as it ran: the fixed schedule, the seed and the backend written in."""
    return plan.experiment.model_copy(
        update={
            "nemesis": tuple(step_of(f) for f in plan.faults),
            "seed": plan.seed,
            "backend": backend,
        }
    )
