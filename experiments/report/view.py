"""What a report shows, computed from a run's files: the header, the tables and the chart data.

Rules: pure functions from ``RunFiles`` to plain values (no IO, no clocks).
Times in the chart data are integer microseconds from the run's start, so the
embedded JSON stays small; operations are columns (one list per field), not
one object each. Whatever a field of results.json lacks (older runs) is left
out of the view rather than guessed. The counterexample layout lives in
``counterexample.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from experiments.history import NEMESIS, Op, Operation, pair_operations
from experiments.report.counterexample import CounterexampleView, counterexample_view
from experiments.report.rundir import RunFiles

US: Final = 1_000
"""Nanoseconds per microsecond: chart times are microseconds."""
TARGET_BUCKETS: Final = 120
"""About this many buckets across the run for the latency and throughput charts."""
_NICE: Final = (1, 2, 5)
TYPE_CODES: Final = {"ok": 0, "fail": 1, "info": 2}
"""Outcome codes of the chart data (3: still pending at the end)."""
PENDING: Final = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckView:
    """One expectation's verdict, as the header shows it."""

    name: str
    status: str
    """pass | fail | unknown"""
    expected: str
    measured: str
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultView:
    """One fault window, as the faults table shows it."""

    id: Any
    fault: str
    description: str
    start_s: float
    end_s: float | None
    targets: str
    evidence: str | None
    observed: bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AvailabilityRow:
    """One side of one window in the availability table."""

    window: str
    span: str
    side: str
    nodes: str
    invoked: Any
    ok: Any
    fail: Any
    info: Any
    yield_: float | None
    p50_ms: Any
    p99_ms: Any
    first: bool
    rows: int
    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreRow:
    """One side of the CAP scorecard."""

    side: str
    invoked: int
    answered: int
    yield_: float | None
    p50_ms: Any
    p99_ms: Any
    stale: str
    worst: str
    lost_writes: int
    lost_updates: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScorecardView:
    """The CAP scorecard of the run (``results.json``'s ``scorecard``)."""

    consistency: str
    unsafe: bool
    rows: list[ScoreRow]
    strongest: str
    anomalies: str
    convergence: str


UNSAFE_MODES: Final = {"lease": "UNSAFE under clock faults", "stale": "UNSAFE", "ap": "UNSAFE"}


def scorecard_view(results: Mapping[str, Any]) -> ScorecardView | None:
    """The scorecard section (None when the run has none: an older runner, a set workload)."""
    card = results.get("scorecard")
    if not isinstance(card, dict) or not isinstance(card.get("sides"), dict):
        return None
    rows = []
    for side in ("quiet", "majority", "minority"):
        row = card["sides"].get(side)
        if not isinstance(row, dict) or not row.get("invoked"):
            continue
        rate = row.get("stale_rate")
        stale = "" if rate is None else f"{rate:.1%} ({row.get('stale_reads')}/{row.get('reads')})"
        worst = (f"{row.get('worst_versions')} version(s), {row.get('worst_ms'):.0f} ms behind"
                 if row.get("worst_versions") else "none")
        rows.append(ScoreRow(
            side=side, invoked=row["invoked"], answered=row.get("answered", 0),
            yield_=row.get("yield"), p50_ms=row.get("p50_ms"), p99_ms=row.get("p99_ms"),
            stale=stale, worst=worst, lost_writes=row.get("lost_writes", 0),
            lost_updates=row.get("lost_updates", 0)))
    mode = str(card.get("consistency", "cp"))
    converged = card.get("converged")
    seconds = card.get("convergence_s")
    convergence = "diverged" if converged is False else "unknown"
    if converged is True and seconds is not None:
        convergence = f"{seconds:.3f} s after the last heal"
    return ScorecardView(
        consistency=f"{mode} ({UNSAFE_MODES[mode]})" if mode in UNSAFE_MODES else mode,
        unsafe=mode in UNSAFE_MODES, rows=rows, strongest=str(card.get("strongest", "")),
        anomalies=", ".join(card.get("anomalies") or []) or "none", convergence=convergence)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportView:
    """Everything the template needs."""

    title: str
    experiment: str
    description: str
    backend: str
    seed: Any
    verdict: str
    command: str
    started_at: str
    facts: list[tuple[str, str]]
    checks: list[CheckView]
    faults: list[FaultView]
    availability: list[AvailabilityRow]
    totals: list[AvailabilityRow]
    counterexample: CounterexampleView | None
    linearizability: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    scorecard: ScorecardView | None = None


def _status(valid: Any) -> str:
    if valid is True:
        return "pass"
    if valid is False:
        return "fail"
    return "unknown"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def nice_step(span: float, target: int = TARGET_BUCKETS) -> float:
    """A 1/2/5 x 10^k step that cuts ``span`` into at most about ``target`` pieces.

    Args:
        span: the length to cut (> 0).
        target: how many pieces at most, roughly.

    Returns:
        The step.
    """
    raw = max(span / target, 1e-9)
    power = 10.0 ** math.floor(math.log10(raw))
    for nice in _NICE:
        if nice * power >= raw:
            return float(nice * power)
    return 10 * power


def _checks(results: Mapping[str, Any]) -> list[CheckView]:
    return [CheckView(name=str(c.get("name", "?")), status=_status(c.get("valid")),
                      expected=_text(c.get("expected")), measured=_text(c.get("measured")),
                      summary=_text(c.get("summary")))
            for c in results.get("checks", [])]


def _verdict(results: Mapping[str, Any], checks: Sequence[CheckView]) -> str:
    verdict = results.get("verdict")
    if verdict in ("pass", "fail", "unknown"):
        return str(verdict)
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        return "fail"
    return "unknown" if "unknown" in statuses or not checks else "pass"


@dataclass(slots=True)
class _Window:
    id: Any
    fault: str
    start: int
    end: int | None
    value: Mapping[str, Any]


def _fault_windows(history: Sequence[Op], events: Iterable[Mapping[str, Any]]) -> list[_Window]:
    """Fault windows from the nemesis ops of the history, else from fault events."""
    windows = []
    for op in pair_operations(op for op in history if op.process == NEMESIS):
        value = op.invoke.value if isinstance(op.invoke.value, dict) else {}
        windows.append(_Window(id=value.get("id"), fault=op.f, start=op.start,
                               end=None if op.completion is None else op.completion.time,
                               value=value))
    if windows:
        return windows
    open_: dict[Any, _Window] = {}
    for event in events:
        if event["type"] == "fault-start":
            given = event.get("value")
            window = _Window(id=event.get("id"), fault=str(event.get("fault", "fault")),
                             start=event["time"], end=None,
                             value=given if isinstance(given, dict) else {})
            windows.append(window)
            open_[window.id] = window
        elif event["type"] == "fault-end" and event.get("id") in open_:
            open_.pop(event.get("id")).end = event["time"]
    return windows


def _observations(results: Mapping[str, Any]) -> dict[Any, Mapping[str, Any]]:
    for check in results.get("checks", []):
        if check.get("name") == "faults-observed":
            details = check.get("details") or {}
            windows = details.get("windows") if isinstance(details, dict) else None
            if isinstance(windows, list):
                return {w.get("id"): w for w in windows if isinstance(w, dict)}
    return {}


def _fault_views(windows: Sequence[_Window], results: Mapping[str, Any]) -> list[FaultView]:
    seen = _observations(results)
    views = []
    for w in windows:
        obs = seen.get(w.id, {})
        targets = w.value.get("targets")
        views.append(FaultView(
            id=w.id, fault=w.fault, description=_text(w.value.get("description")),
            start_s=w.start / 1e9, end_s=None if w.end is None else w.end / 1e9,
            targets=", ".join(map(str, targets)) if isinstance(targets, list) else "",
            evidence=_text(obs.get("evidence")) or None,
            observed=obs.get("observed") if isinstance(obs.get("observed"), bool) else None))
    return views


def _row(window: str, span: str, side: Mapping[str, Any], *, first: bool, rows: int,
         kind: str) -> AvailabilityRow:
    nodes = side.get("nodes")
    share = side.get("yield")
    return AvailabilityRow(
        window=window, span=span, side=str(side.get("side", "")),
        nodes=", ".join(map(str, nodes)) if isinstance(nodes, list) else "",
        invoked=side.get("invoked", ""), ok=side.get("ok", ""), fail=side.get("fail", ""),
        info=side.get("info", ""), yield_=share if isinstance(share, int | float) else None,
        p50_ms=side.get("p50_ms", ""), p99_ms=side.get("p99_ms", ""), first=first, rows=rows,
        kind=kind)


def _availability(results: Mapping[str, Any]) -> tuple[list[AvailabilityRow],
                                                        list[AvailabilityRow]]:
    availability = results.get("availability")
    if not isinstance(availability, dict):
        return [], []
    rows: list[AvailabilityRow] = []
    for w in availability.get("windows") or []:
        if not isinstance(w, dict):
            continue
        sides = [s for s in w.get("sides") or [] if isinstance(s, dict)]
        name = "quiet" if w.get("kind") == "quiet" else f"#{w.get('id')} {w.get('fault')}"
        start, end = w.get("start_s"), w.get("end_s")
        span = (f"{start:.1f} to {end:.1f} s" if isinstance(start, int | float)
                and isinstance(end, int | float) else "")
        rows += [_row(name, span, side, first=n == 0, rows=len(sides),
                      kind=str(w.get("kind", "fault")))
                 for n, side in enumerate(sides)]
    totals = availability.get("totals") or {}
    total_rows = [_row("all windows", "", {"side": name, **stats}, first=True, rows=1,
                       kind="total")
                  for name, stats in totals.items() if isinstance(stats, dict)]
    return rows, total_rows


def _facts(run: RunFiles) -> list[tuple[str, str]]:
    results = run.results
    facts: list[tuple[str, str]] = []
    cluster = results.get("cluster") or (run.experiment or {}).get("cluster")
    if isinstance(cluster, dict):
        facts.append(("cluster", ", ".join(f"{k} {v}" for k, v in cluster.items()
                                           if v is not None)))
    workload = results.get("workload") or (run.experiment or {}).get("workload")
    if isinstance(workload, dict):
        facts.append(("workload", ", ".join(f"{k} {_text(v)}" for k, v in workload.items()
                                            if v is not None)))
    stats = results.get("stats")
    if isinstance(stats, dict):
        facts.append(("stats", ", ".join(f"{k} {v}" for k, v in stats.items())))
    latency = results.get("latency")
    if isinstance(latency, dict):
        facts.append(("latency", ", ".join(
            f"{k.removesuffix('_ms')} {v:.1f} ms" if isinstance(v, int | float) else f"{k} none"
            for k, v in latency.items())))
    if isinstance(results.get("recovery_s"), int | float):
        facts.append(("recovery", f"{results['recovery_s']:.3f} s after the last heal"))
    wall, duration = results.get("wall_s"), results.get("duration_s")
    if isinstance(duration, int | float):
        facts.append(("duration", f"{duration:g} s" + (
            f" (wall {wall:.1f} s)" if isinstance(wall, int | float) else "")))
    return facts


def _intervals(starts: Iterable[tuple[int, str, Any]], end: int) -> dict[str, list[list[Any]]]:
    """Per node: [start, end, state] segments from (time, node, state) changes."""
    by_node: dict[str, list[list[Any]]] = {}
    for t, node, state in sorted(starts, key=lambda s: s[0]):
        segs = by_node.setdefault(node, [])
        if segs:
            segs[-1][1] = t // US
        segs.append([t // US, end // US, state])
    return by_node


def _chart_payload(run: RunFiles, windows: Sequence[_Window], t_end: int) -> dict[str, Any]:
    operations = [o for o in pair_operations(run.history) if o.process != NEMESIS]
    processes = sorted({o.process for o in operations}, key=lambda p: (not isinstance(p, int), p))
    lane_of = {p: n for n, p in enumerate(processes)}
    homes: dict[Any, Any] = {}
    for o in operations:
        homes.setdefault(o.process, o.invoke.node)
    fs: dict[str, int] = {}
    keys: dict[str, int] = {}
    nodes: dict[str, int] = {}
    errors: dict[str, int] = {}

    def code(table: dict[str, int], value: Any) -> int:
        if value is None:
            return -1
        text = value if isinstance(value, str) else json.dumps(value)
        return table.setdefault(text, len(table))

    for event in run.events:
        if isinstance(event.get("node"), str):
            code(nodes, event["node"])
    for p in processes:
        code(nodes, homes[p])
    cols: dict[str, list[Any]] = {name: [] for name in (
        "lane", "start", "end", "type", "f", "key", "value", "node", "error", "index", "done")}
    finals: list[int] = []
    for n, o in enumerate(operations):
        comp = o.completion
        cols["lane"].append(lane_of[o.process])
        cols["start"].append(o.start // US)
        cols["end"].append((comp.time if comp is not None else t_end) // US)
        cols["type"].append(PENDING if comp is None else TYPE_CODES.get(o.type, 2))
        cols["f"].append(code(fs, o.f))
        cols["key"].append(code(keys, o.key))
        cols["value"].append(o.value)
        cols["node"].append(code(nodes, (comp.node if comp is not None and comp.node is not None
                                         else o.invoke.node)))
        cols["error"].append(code(errors, o.error))
        cols["index"].append(o.invoke.index)
        cols["done"].append(-1 if comp is None else comp.index)
        if o.invoke.extra.get("final"):
            finals.append(n)
    faults = [{"id": w.id, "fault": w.fault, "start": w.start // US,
               "end": (t_end if w.end is None else w.end) // US, "open": w.end is None,
               "description": _text(w.value.get("description")),
               "targets": w.value.get("targets"), "sides": w.value.get("sides")}
              for w in windows]
    return {
        "t_end": t_end // US,
        "lanes": [{"process": p, "node": homes[p]} for p in processes],
        "ops": cols, "finals": finals,
        "fs": list(fs), "keys": list(keys), "nodes": list(nodes), "errors": list(errors),
        "faults": faults,
        **_cluster_payload(run.events, t_end),
        **_buckets(operations, t_end),
    }


def _cluster_payload(events: Sequence[Mapping[str, Any]], t_end: int) -> dict[str, Any]:
    leaders: list[list[Any]] = []
    for e in events:
        if e["type"] == "leader":
            if leaders:
                leaders[-1][1] = e["time"] // US
            leaders.append([e["time"] // US, t_end // US, e.get("leader"), e.get("term")])
    roles = _intervals(((e["time"], e["node"], [e.get("role"), e.get("term"), e.get("leader")])
                        for e in events if e["type"] == "role" and isinstance(e.get("node"), str)),
                       t_end)
    marks = [[e["time"] // US, e["node"], e["type"] == "node-down", _text(e.get("reason"))]
             for e in events if e["type"] in ("node-down", "node-up")
             and isinstance(e.get("node"), str)]
    down = _intervals(((e["time"], e["node"],
                        e["type"] == "node-down" and (_text(e.get("reason")) or "down"))
                       for e in events if e["type"] in ("node-down", "node-up")
                       and isinstance(e.get("node"), str)), t_end)
    breakers = [[e["time"] // US, e.get("process"), e.get("node"), e.get("state")]
                for e in events if e["type"] == "breaker"]
    phases = [[e["time"] // US, _text(e.get("phase"))] for e in events if e["type"] == "phase"]
    return {"leaders": leaders, "roles": roles, "marks": marks,
            "down": {n: [s for s in segs if s[2]] for n, segs in down.items()},
            "breakers": breakers, "phases": phases}


def _quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _buckets(operations: Sequence[Operation], t_end: int) -> dict[str, Any]:
    """Latency quantiles of ok ops and completions per second, per time bucket."""
    step_s = nice_step(max(t_end, 1) / 1e9)
    step = max(int(step_s * 1e9), 1)
    count = t_end // step + 1
    latencies: list[list[float]] = [[] for _ in range(count)]
    series: dict[tuple[str, str], list[int]] = {}
    for o in operations:
        comp = o.completion
        if comp is None:
            continue
        b = min(comp.time // step, count - 1)
        series.setdefault((o.f, o.type), [0] * count)[b] += 1
        if o.type == "ok":
            latencies[min(o.start // step, count - 1)].append((comp.time - o.start) / 1e6)
    quantiles: dict[str, list[float | None]] = {"p50": [], "p95": [], "p99": []}
    for values in latencies:
        values.sort()
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            quantiles[name].append(round(_quantile(values, q), 3) if values else None)
    order = {"ok": 0, "fail": 1, "info": 2}
    return {
        "bucket_us": step // US,
        "latency": quantiles,
        "throughput": [{"f": f, "type": t, "rate": [round(c / step_s, 2) for c in counts]}
                       for (f, t), counts in sorted(series.items(),
                                                    key=lambda s: (s[0][0], order[s[0][1]]))],
    }


def _t_end(run: RunFiles) -> int:
    last: int = max((op.time for op in run.history), default=0)
    for event in run.events:
        last = max(last, int(event["time"]))
    duration = run.results.get("duration_s")
    if isinstance(duration, int | float):
        last = max(last, int(duration * 1e9))
    return max(last, 1)


def build_view(run: RunFiles) -> ReportView:
    """Compute what the report shows.

    Args:
        run: the run's files.

    Returns:
        The view: header facts, verdicts, tables, counterexample and chart data.
    """
    results = run.results
    experiment = str(results.get("experiment") or (run.experiment or {}).get("name")
                     or run.run_dir.parent.name)
    checks = _checks(results)
    verdict = _verdict(results, checks)
    t_end = _t_end(run)
    windows = _fault_windows(run.history, run.events)
    rows, totals = _availability(results)
    lin = results.get("linearizability")
    cx = None
    if isinstance(lin, dict) and isinstance(lin.get("counterexample"), dict):
        nodes = {op.index: op.node for op in run.history if op.node is not None}
        cx = counterexample_view(lin["counterexample"], nodes)
    payload = _chart_payload(run, windows, t_end)
    if cx is not None:
        payload["counterexample"] = [op.index for op in cx.ops]
    seed = results.get("seed", (run.experiment or {}).get("seed", ""))
    backend = str(results.get("backend", (run.experiment or {}).get("backend", "")))
    return ReportView(
        title=f"{experiment} · {backend} · seed {seed} · {verdict}",
        experiment=experiment,
        description=_text(results.get("description") or (run.experiment or {}).get(
            "description")),
        backend=backend, seed=seed, verdict=verdict,
        command=_text(results.get("command")), started_at=_text(results.get("started_at")),
        facts=_facts(run), checks=checks, faults=_fault_views(windows, results),
        availability=rows, totals=totals, counterexample=cx,
        linearizability=_text(lin.get("summary")) if isinstance(lin, dict) else None,
        payload=payload, scorecard=scorecard_view(results),
    )
