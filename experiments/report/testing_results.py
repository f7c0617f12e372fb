"""results.json for a sample run, computed the way the runner does (roughly).

Rules: pure functions over a history and its events (the linearizability
check is the real one); no IO. Availability windows: quiet stretches and fault
windows; an operation counts in the window and on the side (majority /
minority of a partition, else "all") where its client's home node was when it
was called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol, TypeAlias

from experiments.checkers import check_linearizable, merge_valid
from experiments.history import Json, Op, client_operations

NS: Final = 1_000_000_000
MS: Final = 1_000_000
_Row: TypeAlias = tuple[str, str, float | None, str | None]
"""An operation for the statistics: (f, outcome, latency ms or None, error)."""


class SampleShape(Protocol):
    """What ``sample_results`` needs of a sample run's shape."""

    @property
    def experiment(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def backend(self) -> str: ...
    @property
    def nodes(self) -> int: ...
    @property
    def clients(self) -> int: ...
    @property
    def keys(self) -> int: ...
    @property
    def duration_s(self) -> float: ...


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _stats(ops: Sequence[_Row]) -> dict[str, Json]:
    invoked = len(ops)
    ok = sum(1 for _, t, _, _ in ops if t == "ok")
    fail = sum(1 for _, t, _, _ in ops if t == "fail")
    mismatch = sum(1 for _, t, _, e in ops if t == "fail" and e == "mismatch")
    lat = [ms for _, t, ms, _ in ops if t == "ok" and ms is not None]
    p50, p99 = _percentile(lat, 0.5), _percentile(lat, 0.99)
    return {"invoked": invoked, "ok": ok, "fail": fail, "info": invoked - ok - fail,
            "yield": round((ok + mismatch) / invoked, 4) if invoked else None,
            "p50_ms": None if p50 is None else round(p50, 2),
            "p99_ms": None if p99 is None else round(p99, 2)}


def sample_results(spec: SampleShape, history: Sequence[Op],
                   events: Sequence[Mapping[str, Json]],
                   *, wall_s: float = 0.0) -> dict[str, Json]:
    """results.json for a sample run, computed as the runner would (roughly).

    Args:
        spec: the run's shape.
        history: its history.
        events: its cluster events.
        wall_s: the wall time to record.

    Returns:
        The results.json object.
    """
    operations = [o for o in client_operations(history) if not o.invoke.extra.get("final")]
    windows = [e for e in events if e["type"] == "fault-start"]
    ends = {e["id"]: e["time"] for e in events if e["type"] == "fault-end"}
    end_ns = int(spec.duration_s * NS)
    bounds: list[tuple[int | None, int, int, dict[str, Json] | None]] = []
    cursor = 0
    for w in windows:
        if w["time"] > cursor:
            bounds.append((None, cursor, w["time"], None))
        bounds.append((w["id"], w["time"], ends[w["id"]], w["value"]))
        cursor = ends[w["id"]]
    bounds.append((None, cursor, end_ns, None))
    table: list[dict[str, Json]] = []
    totals: dict[str, list[_Row]] = {"quiet": [], "majority": [], "minority": []}
    for wid, start, stop, value in bounds:
        inside = [o for o in operations if start <= o.start < stop]
        sides: list[tuple[str, list[str]]]
        if value is not None and "sides" in value:
            sides = [("majority", value["sides"][0]), *(("minority", s)
                                                        for s in value["sides"][1:])]
        else:
            sides = [("all", [f"n{i + 1}" for i in range(spec.nodes)])]
        rows = []
        for name, nodes in sides:
            mine: list[_Row] = [(o.f, o.type, None if o.completion is None else
                     (o.completion.time - o.start) / MS, o.error)
                    for o in inside if o.invoke.node in nodes]
            rows.append({"side": name, "nodes": nodes, **_stats(mine)})
            bucket = "quiet" if wid is None else ("minority" if name == "minority"
                                                  else "majority")
            totals[bucket] += mine
        table.append({"id": wid, "kind": "quiet" if wid is None else "fault",
                      "fault": None if value is None else value["fault"],
                      "start_s": start / NS, "end_s": stop / NS, "sides": rows})
    lin = check_linearizable(history, time_limit=60)
    lat = [(o.completion.time - o.start) / MS for o in operations
           if o.completion is not None and o.type == "ok"]
    last_heal = max(ends.values(), default=0)
    first_write = min((o.completion.time for o in operations if o.f != "read" and o.type == "ok"
                       and o.completion is not None and o.completion.time >= last_heal),
                      default=None)
    recovery = None if first_write is None else round((first_write - last_heal) / NS, 3)
    agg = {name: _stats(ops) for name, ops in totals.items()}
    avail_checks = []
    for name, at_least, bound in (("quiet", True, 0.95), ("majority", True, 0.8),
                                  ("minority", False, 0.05)):
        y = agg[name]["yield"]
        rule = f"{'>=' if at_least else '<='} {bound}"
        holds = None if y is None else (y >= bound if at_least else y <= bound)
        avail_checks.append({
            "name": f"availability.{name}", "valid": "unknown" if holds is None else holds,
            "expected": rule, "measured": "no operations" if y is None else f"{y:.3f}",
            "summary": f"{agg[name]['ok']} of {agg[name]['invoked']} operations answered on "
                       f"the {name} {'windows' if name == 'quiet' else 'side'}"})
    checks: list[dict[str, Json]] = [
        {"name": "linearizable", "valid": lin.valid, "expected": "true",
         "measured": str(lin.valid).lower(), "summary": lin.summary},
        {"name": "lost-writes", "valid": True, "expected": "0", "measured": "0",
         "summary": "every acknowledged write was read or overwritten"},
        *avail_checks,
        {"name": "recovery", "valid": recovery is not None and recovery <= 5,
         "expected": "<= 5s", "measured": "none" if recovery is None else f"{recovery}s",
         "summary": "first ok write after the last heal"},
        {"name": "faults-observed", "valid": True,
         "expected": "every fault window has an effect",
         "measured": f"{len(windows)} of {len(windows)}", "summary": "every window had an effect",
         "details": {"windows": [{"id": w["id"], "fault": w["fault"], "observed": True,
                                  "evidence": f"{w['value']['description']}: ops slowed or "
                                              "failed"} for w in windows]}},
    ]
    verdict = merge_valid(c["valid"] for c in checks)
    verdict_name = "pass" if verdict is True else "fail" if verdict is False else "unknown"
    seed, backend = spec.seed, spec.backend
    return {
        "format": 1, "experiment": spec.experiment, "description": spec.description,
        "backend": backend, "seed": seed, "verdict": verdict_name,
        "exit_code": {"pass": 0, "fail": 1, "unknown": 3}[verdict_name],
        "started_at": "2026-11-30T23:59:00Z", "wall_s": wall_s, "duration_s": spec.duration_s,
        "command": f"chaoslab run experiments/catalog/{spec.experiment}.yaml --backend {backend}"
                   f" --seed {seed}",
        "cluster": {"nodes": spec.nodes, "consistency": "cp", "store": "chaoslab"},
        "workload": {"kind": "register", "clients": spec.clients, "keys": spec.keys},
        "checks": checks,
        "availability": {"windows": table, "totals": agg},
        "latency": {"p50_ms": _percentile(lat, 0.5), "p95_ms": _percentile(lat, 0.95),
                    "p99_ms": _percentile(lat, 0.99), "max_ms": max(lat, default=None)},
        "recovery_s": recovery,
        "stats": {"operations": len(operations),
                  "ok": sum(1 for o in operations if o.type == "ok"),
                  "fail": sum(1 for o in operations if o.type == "fail"),
                  "info": sum(1 for o in operations if o.type == "info"),
                  "faults": len(windows)},
        "linearizability": lin.to_json(),
    }
