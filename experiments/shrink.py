"""Shrink a failing simulator run to a smaller experiment that still fails the same way.

Rules: the simulator only (a run there depends on nothing but the experiment and the
seed, so "still fails" means something). The random nemesis is first written out as the
fixed schedule that ran; then one change at a time is tried (a fault dropped, the quiet
time compacted, the tail cut, clients, keys, nodes or rate reduced, a fault shortened),
and a change is kept when the run still fails at least one of the checks that failed
first (the safety checks, when any of them failed: a shorter run must not "fail" merely
because it became too short to recover in). Any change reshuffles a simulation, so a
change may be tried with several seeds, more each time no change was kept. Like
Hypothesis, it stops at a fixpoint (no single change keeps it failing, with the most
seeds) or when its budget of runs or seconds is spent. Candidate generation is pure;
``shrink`` runs them; ``save_shrunk`` writes the smallest failing experiment beside the
original run, with the history of its run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import structlog
from pydantic import ValidationError

from experiments.backends import refusals
from experiments.runner import rundir
from experiments.runner.api import RunOutcome, run_experiment
from experiments.runner.plan import plan_run, resolved_experiment
from experiments.spec.model import Experiment
from experiments.spec.quantities import format_duration

_log = structlog.get_logger()
LIVENESS_PREFIXES: Final = ("recovery", "availability", "latency")
"""Checks a run can fail merely by being short or small; a target only when nothing else
failed."""
MIN_TAIL_S: Final = 1.0
MIN_FAULT_S: Final = 0.2
MIN_LEAD_S: Final = 0.5
MIN_SHIFT_S: Final = 0.5
SHRUNK_FILE: Final = "shrunk.yaml"
SHRUNK_DIR: Final = "shrunk"
LOG_FILE: Final = "shrink.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Size:
    """How big an experiment (and its run) is."""

    nodes: int
    clients: int
    keys: int
    duration_s: float
    faults: int
    fault_s: float
    """Seconds of faults in force, summed over faults."""
    operations: int
    """Client operations the run invoked."""

    @classmethod
    def of(cls, experiment: Experiment, outcome: RunOutcome) -> Size:
        """The size of a fixed-schedule experiment and its run."""
        steps = experiment.nemesis if isinstance(experiment.nemesis, tuple) else ()
        return cls(
            nodes=experiment.cluster.nodes,
            clients=experiment.workload.clients,
            keys=experiment.workload.keys,
            duration_s=experiment.duration,
            faults=len(steps),
            fault_s=round(sum(s.for_ for s in steps), 3),
            operations=int(outcome.results.get("stats", {}).get("operations", 0)),
        )

    def to_json(self) -> dict[str, Any]:
        """As written in shrink.json."""
        return {"nodes": self.nodes, "clients": self.clients, "keys": self.keys,
                "duration_s": self.duration_s, "faults": self.faults,
                "fault_s": self.fault_s, "operations": self.operations}


def compare(before: Size, after: Size) -> str:
    """``5 -> 3 nodes, 10 -> 2 clients, ...``: what changed, in words."""
    parts = []
    for label, a, b in (
        ("operations", before.operations, after.operations),
        ("faults", before.faults, after.faults),
        ("s of faults", before.fault_s, after.fault_s),
        ("s long", before.duration_s, after.duration_s),
        ("nodes", before.nodes, after.nodes),
        ("clients", before.clients, after.clients),
        ("keys", before.keys, after.keys),
    ):
        parts.append(f"{a:g} -> {b:g} {label}" if a != b else f"{a:g} {label}")
    return ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One change that kept the run failing."""

    change: str
    size: Size


@dataclass(frozen=True, slots=True, kw_only=True)
class ShrinkResult:
    """The smallest failing experiment found, and how it was found."""

    original: Experiment
    """The failing run's experiment, its random nemesis written out."""
    smallest: Experiment
    """The smallest experiment that still fails (seed and backend written in)."""
    seed: int
    target: tuple[str, ...]
    """The checks a smaller run had to keep failing (at least one of them)."""
    before: Size
    after: Size
    steps: tuple[Step, ...]
    runs: int
    elapsed_s: float
    finished: bool
    """A fixpoint was reached (False: the budget ran out first)."""
    outcome: RunOutcome
    """The run of ``smallest``."""
    path: Path | None = None
    """Where ``smallest`` was saved (``shrunk.yaml``)."""
    run_dir: Path | None = None
    """Where its run was saved (history, results, report)."""

    def describe(self) -> list[str]:
        """A few lines for a failing test's output."""
        how = "smallest found" if self.finished else "budget spent; smallest so far"
        lines = [f"shrunk:        {how} after {self.runs} run(s) in {self.elapsed_s:.0f} s, "
                 f"still failing {', '.join(self.failing())}:",
                 f"               {compare(self.before, self.after)}"]
        if self.path is not None:
            lines.append(f"               experiment: {self.path}")
            lines.append(f"               reproduce:  chaoslab run {self.path} --backend sim "
                         f"--seed {self.seed}")
        if self.run_dir is not None:
            lines.append(f"               its run:    {self.run_dir / 'report.html'}")
        return lines

    def failing(self) -> list[str]:
        """The target checks the smallest run fails."""
        return [c["name"] for c in self.outcome.results.get("checks", [])
                if c["valid"] is False and c["name"] in self.target]

    def to_json(self) -> dict[str, Any]:
        """shrink.json."""
        return {
            "seed": self.seed,
            "target": list(self.target),
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "steps": [{"change": s.change, **s.size.to_json()} for s in self.steps],
            "runs": self.runs,
            "elapsed_s": round(self.elapsed_s, 3),
            "finished": self.finished,
        }


def target_checks(outcome: RunOutcome) -> tuple[str, ...]:
    """The checks a smaller run must keep failing (see the module docstring)."""
    failed = [c["name"] for c in outcome.results.get("checks", []) if c["valid"] is False]
    safety = [n for n in failed if not n.startswith(LIVENESS_PREFIXES)]
    return tuple(safety or failed)


def still_fails(outcome: RunOutcome, target: tuple[str, ...]) -> bool:
    """The run failed, and failed at least one of ``target``."""
    return outcome.verdict == "fail" and any(
        c["valid"] is False and c["name"] in target for c in outcome.results.get("checks", [])
    )


# ---- candidates (pure) ---------------------------------------------------------------

def _round(seconds: float) -> float:
    return round(seconds, 1)


def _min_tail(experiment: Experiment) -> float:
    """The quiet tail a run keeps after its last fault: enough to recover in."""
    recovery = experiment.expect.recovery
    return max(MIN_TAIL_S, recovery.limit + MIN_TAIL_S if recovery is not None else 0.0)


def _with(data: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(data))
    for dotted, value in changes.items():
        node = out
        *parents, last = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return out


def _smaller(value: int, floor: int) -> list[int]:
    """Halve, then take one off (each only when it is smaller and at least ``floor``)."""
    options = []
    for candidate in (value // 2, value - 1):
        if floor <= candidate < value and candidate not in options:
            options.append(candidate)
    return options


def candidates(experiment: Experiment) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every one-step reduction of a fixed-schedule experiment, biggest first, as
    (what changed, the experiment's fields). Some may be invalid: the caller validates."""
    data = experiment.model_dump(by_alias=True, mode="json", exclude_none=True)
    steps: list[dict[str, Any]] = list(data.get("nemesis") or [])
    timed = [(s, experiment.nemesis[i]) for i, s in enumerate(steps)] \
        if isinstance(experiment.nemesis, tuple) else []
    duration = experiment.duration
    end = max((f.at + f.for_ for _, f in timed), default=0.0)
    tail = _min_tail(experiment)

    # The tail after the last fault (or the whole run, without faults), halved.
    keep = max(tail, (duration - end) / 2) if timed else max(MIN_TAIL_S, duration / 2)
    if _round(end + keep) < duration:
        new = _round(end + keep)
        yield f"duration {format_duration(duration)} -> {format_duration(new)}", \
            _with(data, duration=format_duration(new))
    for i, (_, fault) in enumerate(timed):
        rest = [s for j, s in enumerate(steps) if j != i]
        yield f"dropped fault {i + 1} ({fault.fault.value} at {format_duration(fault.at)})", \
            _with(data, nemesis=rest)
    # Quiet gaps (before the first fault and between faults) halved, everything after
    # moving earlier with them.
    if timed:
        order = sorted(range(len(timed)), key=lambda k: timed[k][1].at)
        moved = [dict(s) for s in steps]
        shift = 0.0
        previous_end = 0.0
        for k in order:
            fault = timed[k][1]
            gap = fault.at - previous_end
            floor = MIN_LEAD_S if previous_end == 0.0 else 0.0
            cut = _round(max(0.0, (gap - floor) / 2)) if gap > floor else 0.0
            shift += cut
            moved[k]["at"] = format_duration(_round(max(0.0, fault.at - shift)))
            previous_end = max(previous_end, fault.at + fault.for_)
        if shift >= MIN_SHIFT_S:
            new = _round(duration - shift)
            yield f"quiet time before faults cut by {format_duration(shift)}", \
                _with(data, nemesis=moved, duration=format_duration(new))
    workload = experiment.workload
    for clients in _smaller(workload.clients, 1):
        yield f"clients {workload.clients} -> {clients}", _with(data, workload__clients=clients)
    for keys in _smaller(workload.keys, 1):
        yield f"keys {workload.keys} -> {keys}", _with(data, workload__keys=keys)
    partitions = any(f.fault.is_partition for _, f in timed)
    for nodes in _smaller(experiment.cluster.nodes, 3 if partitions else 1):
        yield f"nodes {experiment.cluster.nodes} -> {nodes}", _with(data, cluster__nodes=nodes)
    if workload.rate > 1:
        rate = max(1.0, workload.rate / 2)
        yield f"rate {workload.rate:g}/s -> {rate:g}/s", _with(data, workload__rate=rate)
    for i, (_, fault) in enumerate(timed):
        shorter = _round(max(MIN_FAULT_S, fault.for_ / 2))
        if shorter < fault.for_:
            changed = [dict(s) for s in steps]
            changed[i]["for"] = format_duration(shorter)
            yield (f"fault {i + 1} ({fault.fault.value}) {format_duration(fault.for_)} -> "
                   f"{format_duration(shorter)}"), _with(data, nemesis=changed)


# ---- the search ------------------------------------------------------------------------

Runner = Callable[[Experiment, int], RunOutcome]


def _sim_run(experiment: Experiment, seed: int) -> RunOutcome:
    return run_experiment(experiment, backend="sim", seed=seed, runs_dir=None, render=False)


def shrink(
    experiment: Experiment,
    seed: int,
    *,
    budget_s: float = 60.0,
    max_runs: int = 500,
    tries: int = 1,
    max_tries: int = 8,
    runner: Runner = _sim_run,
    on_step: Callable[[Step], None] | None = None,
) -> ShrinkResult | None:
    """Shrink a failing simulator run of ``experiment`` with ``seed``.

    Args:
        experiment: the experiment that failed (a random nemesis is written out first).
        seed: the seed it failed with.
        budget_s: wall seconds to spend at most (a run under way is finished).
        max_runs: runs to make at most.
        tries: seeds to try each change with at first: the current one, then the next
            ones. Any change reshuffles a simulation, so a bug that needs a rare
            interleaving may need several seeds to show again; the seed that did is kept
            from then on. When no change is kept, the changes are tried again with twice
            as many seeds, up to ``max_tries``, before the search ends.
        max_tries: the most seeds a change is tried with.
        runner: runs an experiment with a seed on the simulator (tests swap it).
        on_step: told about every change kept.

    Returns:
        The smallest failing experiment found, or None when the run does not fail again
        (it was not a simulator run, or it failed only with an unknown verdict).
    """
    started = time.monotonic()
    original = resolved_experiment(plan_run(experiment, seed), "sim")
    first = runner(original, seed)
    target = target_checks(first)
    if not target or not still_fails(first, target):
        return None
    current, outcome = original, first
    before = Size.of(original, first)
    steps: list[Step] = []
    tried: set[str] = set()
    runs = 1

    def spent() -> bool:
        return runs >= max_runs or time.monotonic() - started >= budget_s

    finished = False
    while not spent():
        kept = False
        for change, data in candidates(current):
            if spent():
                break
            key = json.dumps(data, sort_keys=True)
            if key in tried:
                continue
            tried.add(key)
            try:
                candidate = Experiment.model_validate(data)
            except ValidationError:
                continue
            if refusals("sim", candidate):
                continue
            for attempt in range(max(1, tries)):
                if attempt and spent():
                    break
                runs += 1
                try:
                    result = runner(candidate, seed + attempt)
                except Exception as exc:  # a candidate the runner cannot run: the next one
                    _log.warning("shrink.candidate_crashed", change=change, error=repr(exc))
                    break
                if still_fails(result, target):
                    seed += attempt
                    current, outcome, kept = candidate, result, True
                    break
            if kept:
                step = Step(change=change, size=Size.of(current, outcome))
                steps.append(step)
                _log.info("shrink.step", change=change, seed=seed,
                          operations=step.size.operations)
                if on_step is not None:
                    on_step(step)
                break
        else:
            if tries < max_tries:
                tries, tried = min(max_tries, 2 * max(1, tries)), set()
                _log.info("shrink.more_seeds", tries=tries)
                continue
            finished = True
        if not kept:
            break
    smallest = resolved_experiment(plan_run(current, seed), "sim")
    return ShrinkResult(
        original=original,
        smallest=smallest,
        seed=seed,
        target=target,
        before=before,
        after=Size.of(current, outcome),
        steps=tuple(steps),
        runs=runs,
        elapsed_s=time.monotonic() - started,
        finished=finished,
        outcome=outcome,
    )


def save_shrunk(result: ShrinkResult, beside: Path, *, render: bool = True) -> ShrinkResult:
    """Write the smallest experiment as ``beside/shrunk.yaml``, its run as ``beside/shrunk/``
    (experiment.yaml, history.jsonl, events.jsonl, results.json, report.html, junit.xml)
    and the steps as ``beside/shrink.json``; returns the result with the paths set."""
    beside.mkdir(parents=True, exist_ok=True)
    path = beside / SHRUNK_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(rundir.experiment_text(result.smallest), encoding="utf-8")
    tmp.replace(path)
    run_dir = beside / SHRUNK_DIR
    run_dir.mkdir(exist_ok=True)
    outcome = result.outcome
    command = f"chaoslab run {path} --backend sim --seed {result.seed}"
    results = {**outcome.results, "command": command}
    rundir.write_run(run_dir, experiment=result.smallest, history=outcome.history,
                     events=outcome.events, results=results)
    log = beside / LOG_FILE
    log.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    if render:
        try:
            from experiments.report import render_run, write_junit  # noqa: PLC0415

            render_run(run_dir)
            write_junit(run_dir)
        except Exception as exc:  # a report must never lose the shrunk experiment
            _log.error("shrink.render_failed", dir=str(run_dir), error=str(exc))
    return replace(result, path=path, run_dir=run_dir)
