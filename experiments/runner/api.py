"""Run one experiment on one backend with one seed, and judge it.

Rules: the one place that ties the pieces together: plan (pure) → backend start → the
engine on the backend's loop → heal and stop (always, Ctrl-C included) → analysis and
checks (pure) → the run directory → the report. A backend that cannot start, or a run
interrupted, still leaves a run directory whose verdict is ``unknown`` and says why.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from experiments.backends import BackendOptions, open_backend
from experiments.backends.base import Cluster, node_label
from experiments.errors import BackendFailure
from experiments.history import HistoryError, Op, client_operations
from experiments.runner import analysis, rundir, scorecard
from experiments.runner.engine import Engine, FaultRecord, Progress
from experiments.runner.plan import RunPlan, plan_run, resolved_experiment
from experiments.runner.verdict import (
    EXIT_CODES,
    Check,
    Evidence,
    judge,
    linearizability_of,
    verdict_of,
)
from experiments.schedule import NemesisKind
from experiments.spec.model import Experiment
from experiments.stores.names import DEFAULT_STORE

_log = structlog.get_logger()
NS_PER_S = 1_000_000_000
FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """What one run concluded, and where its files are."""

    experiment: str
    backend: str
    seed: int
    verdict: str
    exit_code: int
    dir: Path | None
    command: str
    results: dict[str, Any]
    resolved: Experiment | None = None
    """The experiment as it ran (fixed schedule, seed, backend)."""
    history: tuple[Op, ...] = ()
    events: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``chaoslab run --json`` line."""
        return {
            "experiment": self.experiment,
            "backend": self.backend,
            "seed": self.seed,
            "verdict": self.verdict,
            "dir": None if self.dir is None else str(self.dir),
            "command": self.command,
            "checks": self.results.get("checks", []),
        }


def reproduce_command(source: str | None, backend: str, seed: int, store: str | None = None) -> str:
    """The one command that runs this experiment again with this seed (on ``store``, when
    it is not chaoslab: the file may have been run with ``--store``)."""
    target = source or "EXPERIMENT.yaml"
    on_store = "" if store in (None, DEFAULT_STORE) else f" --store {store}"
    return f"chaoslab run {target} --backend {backend} --seed {seed}{on_store}"


def _back_up(
    events: list[dict[str, Any]], history: list[Op], nodes: tuple[str, ...], after: int
) -> int | None:
    """When every one of ``nodes`` was next seen answering after ``after`` (None: never):
    its status answered, or it answered one of its clients, whichever came first."""
    back: dict[str, int] = {}
    for event in events:
        if event["time"] >= after and event["type"] == "node-up" and \
                event.get("reason") == "reachable" and event["node"] in nodes:
            back.setdefault(event["node"], int(event["time"]))
    for op in client_operations(history):
        done = op.completion
        if done is not None and done.time >= after and op.invoke.node in nodes and \
                analysis.answered(op):
            node = str(op.invoke.node)
            back[node] = min(back.get(node, done.time), done.time)
    if set(back) != set(nodes):
        return None
    return max(back.values()) if back else after


def _windows(records: list[FaultRecord], duration: int, events: list[dict[str, Any]],
             history: list[Op]) -> list[analysis.FaultWindow]:
    """Fault windows as they happened. A killed or paused node's window lasts until it was
    seen answering again: booting (or thawing) is part of what the fault did to it."""
    windows = []
    for record in records:
        fault = record.resolved
        if fault is None or record.started is None:
            continue
        end = record.ended if record.ended is not None else duration
        if (fault.kind in (NemesisKind.KILL, NemesisKind.PAUSE) or fault.kind.stops_node) and \
                record.ended is not None:
            names = tuple(node_label(n) or "" for n in fault.targets)
            back = _back_up(events, history, names, record.ended)
            end = duration if back is None else min(duration, max(end, back))
        value = fault.value()
        windows.append(
            analysis.FaultWindow(
                id=fault.id,
                fault=fault.kind.value,
                start=record.started,
                end=max(end, record.started),
                sides=tuple(tuple(side) for side in value.get("sides", [])),
                targets=tuple(t for t in value["targets"] if t is not None),
                value=value,
            )
        )
    return windows


def analyse(
    experiment: Experiment,
    engine: Engine,
    cluster: Cluster,
    *,
    check_time_limit_s: float,
    failure: str | None,
) -> dict[str, Any]:
    """The results of a finished (or broken off) run, as the run directory's contract."""
    history = engine.record.ops
    events = engine.record.events
    duration = int(experiment.duration * NS_PER_S)
    faults = _windows(engine.faults, duration, events, history)
    grace_s = (
        experiment.expect.availability.grace
        if experiment.expect.availability is not None
        and experiment.expect.availability.grace is not None
        else getattr(cluster, "election_timeout_s", experiment.cluster.timing.election_timeout_s)
    )
    table = analysis.availability(
        history, faults, duration=duration, size=len(cluster.node_ids),
        grace=int(grace_s * NS_PER_S),
    )
    heal = max((f.end for f in faults), default=None)
    recovery = analysis.recovery_s(history, heal)
    latency = analysis.latency_summary(history)
    linear = linearizability_of(history, time_limit_s=check_time_limit_s)
    lost = analysis.lost_writes(history)
    quiet_p50 = table["totals"]["quiet"].get("p50_ms")
    evidence = []
    by_id = {r.resolved.id: r for r in engine.faults if r.resolved is not None}
    for window in faults:
        record = by_id[window.id]
        found = analysis.fault_evidence(
            window, history, events,
            undelivered_before=record.before, undelivered_after=record.after,
            quiet_p50_ms=quiet_p50, probes=record.probes,
        )
        evidence.append(Evidence(fault=window, evidence=found, error=record.error))
    internal: list[dict[str, Any]] = getattr(cluster, "internal_checks", list)()
    checks = judge(
        experiment.expect,
        history,
        linearizability=linear,
        availability=table,
        latency=latency,
        recovery_s=recovery,
        had_faults=bool(faults),
        lost=lost,
        evidence=evidence,
        internal=internal,
    )
    if failure is not None:
        started = any(op.type == "invoke" and op.process != "nemesis" for op in history)
        broken = Check(name="run", valid="unknown", expected="the run completes",
                       measured="broken off" if started else "did not start", summary=failure)
        # Nothing ran: checks of an empty history would only look like verdicts.
        checks = [*checks, broken] if started else [broken]
    verdict = verdict_of(checks)
    card = None
    if experiment.workload.kind == "register" and history:
        card = scorecard.scorecard(
            history, faults, duration=duration, size=len(cluster.node_ids),
            grace=int(grace_s * NS_PER_S), consistency=experiment.cluster.consistency,
            time_limit_s=check_time_limit_s, linearizable=linear,
        )
    invoked = [op for op in history if op.type == "invoke" and op.process != "nemesis"]
    completions = [op for op in history if op.type != "invoke" and op.process != "nemesis"]
    stats = {
        "operations": len(invoked),
        "ok": sum(1 for op in completions if op.type == "ok"),
        "fail": sum(1 for op in completions if op.type == "fail"),
        "info": sum(1 for op in completions if op.type == "info") + len(invoked)
        - len(completions),
        "faults": len(faults),
        "leader_changes": sum(1 for e in events if e["type"] == "leader"),
    }
    stats |= getattr(cluster, "stats", dict)()
    return {
        "verdict": verdict,
        "exit_code": EXIT_CODES[verdict],
        "checks": [c.to_json() for c in checks],
        "availability": table,
        "latency": latency,
        "recovery_s": recovery,
        "stats": stats,
        "linearizability": linear.to_json(),
        "homes": {str(p): node_label(n) for p, n in engine.homes.items()},
        "scorecard": card,
    }


def execute_plan(
    plan: RunPlan,
    cluster: Cluster,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    logs_dir: Path | None = None,
) -> tuple[Engine, str | None, bool]:
    """Start the cluster, run the plan on it, heal and stop it (always).

    Returns:
        The engine (its history and events), why the run broke off (None: it did not),
        and whether Ctrl-C interrupted it.
    """
    experiment = plan.experiment
    engine = Engine(plan, cluster, poll_interval_s=getattr(cluster, "poll_interval_s", 0.1),
                    on_progress=on_progress)
    failure: str | None = None
    interrupted = False
    try:
        cluster.start()
        workload = experiment.workload
        limit = experiment.duration + workload.timeout * (3 + workload.keys) + 60
        if not cluster.execute(engine.program, limit_s=limit):
            failure = f"the run did not finish within {limit:g} s"
    except BackendFailure as exc:
        failure = str(exc)
        _log.error("run.backend_failed", error=failure)
    except KeyboardInterrupt:
        interrupted = True
        failure = "interrupted (Ctrl-C): every fault was healed and the cluster stopped"
    finally:
        engine.close()
        if logs_dir is not None:
            with contextlib.suppress(Exception):
                cluster.save_logs(logs_dir)
        with contextlib.suppress(Exception):
            cluster.stop()
    return engine, failure, interrupted


def run_experiment(
    experiment: Experiment,
    *,
    backend: str,
    seed: int,
    runs_dir: Path | None,
    source: str | None = None,
    options: BackendOptions | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    check_time_limit_s: float = 60.0,
    render: bool = True,
) -> RunOutcome:
    """Run ``experiment`` once and judge it (see the module docstring).

    Args:
        experiment: a validated experiment.
        backend: ``sim``, ``local`` or ``docker``.
        seed: the run's seed.
        runs_dir: where run directories go (None: write nothing).
        source: the experiment's file, for the reproduce command.
        options: backend settings from the command line.
        on_progress: told about progress as the run goes.
        check_time_limit_s: the linearizability search's budget.
        render: write ``report.html`` and ``junit.xml`` too.

    Raises:
        BadInput: the backend cannot run this experiment (nothing was started).
    """
    plan = plan_run(experiment, seed)
    cluster = open_backend(backend, experiment, seed, options)
    started = datetime.now(UTC)
    wall = time.monotonic()
    run_dir = None
    if runs_dir is not None:
        run_dir = rundir.make_run_dir(runs_dir, experiment.name, backend, seed, started)
    engine, failure, interrupted = execute_plan(
        plan, cluster, on_progress=on_progress,
        logs_dir=None if run_dir is None else run_dir / rundir.LOGS,
    )
    command = reproduce_command(source, backend, seed, experiment.cluster.store)
    results: dict[str, Any] = {
        "format": FORMAT,
        "experiment": experiment.name,
        "description": experiment.description,
        "backend": backend,
        "seed": seed,
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_s": round(time.monotonic() - wall, 3),
        "duration_s": experiment.duration,
        "command": command,
        "cluster": {
            "nodes": experiment.cluster.nodes,
            "consistency": experiment.cluster.consistency,
            "store": experiment.cluster.store,
            "unsafe": experiment.cluster.unsafe,
        },
        "workload": {
            "kind": experiment.workload.kind,
            "clients": experiment.workload.clients,
            "keys": experiment.workload.keys,
            "routing": experiment.workload.routing,
        },
    }
    try:
        engine.record.validate()
    except HistoryError as exc:  # a runner bug: keep the evidence, judge nothing
        _log.error("run.invalid_history", error=str(exc))
        failure = f"the runner recorded an invalid history ({exc}); please report it"
        results |= {"verdict": "unknown", "exit_code": EXIT_CODES["unknown"],
                    "checks": [Check(name="run", valid="unknown", expected="a valid history",
                                     measured="invalid", summary=failure).to_json()],
                    "availability": {}, "latency": {}, "recovery_s": None, "stats": {},
                    "linearizability": {}}
    else:
        results |= analyse(experiment, engine, cluster, check_time_limit_s=check_time_limit_s,
                           failure=failure)
    outcome = RunOutcome(
        experiment=experiment.name,
        backend=backend,
        seed=seed,
        verdict=results["verdict"],
        exit_code=results["exit_code"],
        dir=run_dir,
        command=command,
        results=results,
        resolved=resolved_experiment(plan, backend),
        history=tuple(engine.record.ops),
        events=tuple(engine.record.events),
    )
    if run_dir is not None and runs_dir is not None:
        save_outcome(outcome, runs_dir, run_dir=run_dir, render=render)
    if interrupted:
        raise KeyboardInterrupt
    return outcome


def save_outcome(
    outcome: RunOutcome, runs_dir: Path, *, run_dir: Path | None = None, render: bool = True
) -> RunOutcome:
    """Write a run's directory (made now unless given) and its report; returns the outcome
    with ``dir`` set. Sweeps use it for runs made in worker processes or on Dask."""
    if outcome.resolved is None:
        msg = "an outcome without its resolved experiment cannot be saved"
        raise ValueError(msg)
    if run_dir is None:
        started = datetime.strptime(outcome.results["started_at"], "%Y-%m-%dT%H:%M:%SZ")
        run_dir = rundir.make_run_dir(
            runs_dir, outcome.experiment, outcome.backend, outcome.seed, started
        )
    rundir.write_run(
        run_dir,
        experiment=outcome.resolved,
        history=outcome.history,
        events=outcome.events,
        results=outcome.results,
    )
    rundir.link_latest(runs_dir, run_dir)
    if render:
        _render(run_dir)
    return replace(outcome, dir=run_dir)


def _render(run_dir: Path) -> None:
    """``report.html`` and ``junit.xml``, when the report package is there."""
    try:
        from experiments import report  # noqa: PLC0415 - imported lazily on purpose
    except ImportError:
        return
    for render in (getattr(report, "render_run", None), getattr(report, "write_junit", None)):
        if render is None:
            continue
        try:
            render(run_dir)
        except Exception as exc:  # a report must never lose a run's verdict
            _log.error("run.render_failed", dir=str(run_dir), error=str(exc))
