"""The CAP scorecard of one run: what the consistency mode bought and what it cost, per side.

Rules: pure functions over the history, the fault windows and the checkers' verdicts; no
IO, no clocks (the searches get their budget as an argument). Operations are bucketed by
side exactly as the availability totals bucket them (``analysis.side_buckets``: quiet,
majority side, minority side, the grace after each window's start left out). Per side:
yield (answered before its window ended / invoked), p50 / p99 latency of answered
operations, the stale-read rate and the worst staleness (PBS, ``checkers.staleness``:
versions and ms behind), acknowledged writes a final read proves lost
(``analysis.lost_writes``) and lost updates (two acknowledged cas from the same old value:
a linearizable register lets only one of them succeed, so one update was silently
overwritten). For the whole run: the strongest model the history satisfies
(``checkers.strongest``) with the anomalies found, and whether and how fast the replicas'
final reads agreed after the last heal (``checkers.eventual``). ``aggregate`` folds the
scorecards of many runs of one mode into one (sums of counts, medians of the latency
percentiles, the worst staleness, how often each model was the strongest).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from experiments.checkers.eventual import check_eventual
from experiments.checkers.result import CheckResult
from experiments.checkers.staleness import read_staleness
from experiments.checkers.strongest import strongest_model
from experiments.history import Op, Operation, client_operations
from experiments.runner import analysis
from experiments.runner.analysis import FaultWindow

SIDES: Final = ("quiet", "majority", "minority")
FORMAT: Final = 1


def lost_updates(history: Sequence[Op]) -> list[Operation]:
    """Acknowledged cas operations that built on an old value another acknowledged cas of
    the same key had already built on (the later of each such group, by completion)."""
    groups: dict[tuple[str, str], list[Operation]] = {}
    for op in client_operations(history):
        if op.f != "cas" or op.type != "ok" or not isinstance(op.value, list | tuple):
            continue
        groups.setdefault((repr(op.key), repr(op.value[0])), []).append(op)
    lost = []
    for group in groups.values():
        ordered = sorted(group, key=lambda o: (o.end or 0, o.invoke.index))
        lost.extend(ordered[1:])
    return sorted(lost, key=lambda o: o.invoke.index)


def _side_of(buckets: analysis.SideBuckets) -> dict[int, str]:
    """Invoke index -> side."""
    return {op.invoke.index: side for side, ops in buckets.sides.items() for op in ops}


def scorecard(
    history: Sequence[Op],
    faults: Sequence[FaultWindow],
    *,
    duration: int,
    size: int,
    grace: int,
    consistency: str,
    time_limit_s: float,
    linearizable: CheckResult | None = None,
) -> dict[str, Any]:
    """One run's scorecard (see the module docstring), as ``results.json`` holds it.

    Args:
        history: the run's history (register workload, unique written values).
        faults: the fault windows as they happened.
        duration: the workload's end, in ns from the start.
        size: the cluster's size.
        grace: ns after a window's start left out of the side totals.
        consistency: the mode the cluster ran.
        time_limit_s: the budget of each search (sequential; linearizable when not given).
        linearizable: the run's linearizability verdict, when already known.
    """
    buckets = analysis.side_buckets(history, faults, duration=duration, size=size, grace=grace)
    side_of = _side_of(buckets)
    stale, _, _ = read_staleness(history)
    lost = analysis.lost_writes(history)
    updates = lost_updates(history)
    sides: dict[str, dict[str, Any]] = {}
    for side in SIDES:
        ops = buckets.sides[side]
        row = analysis.late_aware(ops, buckets.late)
        reads = [r for r in stale if side_of.get(r.index) == side]
        behind = [r for r in reads if r.versions > 0]
        sides[side] = {
            "invoked": row["invoked"],
            "answered": row["answered"],
            "yield": row["yield"],
            "p50_ms": row["p50_ms"],
            "p99_ms": row["p99_ms"],
            "reads": len(reads),
            "stale_reads": len(behind),
            "stale_rate": round(len(behind) / len(reads), 4) if reads else None,
            "worst_versions": max((r.versions for r in behind), default=0),
            "worst_ms": round(max((r.ms for r in behind), default=0.0), 3),
            "lost_writes": sum(1 for w in lost if side_of.get(w.index) == side),
            "lost_updates": sum(1 for o in updates if side_of.get(o.invoke.index) == side),
        }
    name, results = strongest_model(history, time_limit=time_limit_s, linearizable=linearizable)
    eventual = results.get("eventual") or check_eventual(history)
    convergence = eventual.details.get("convergence_s")
    return {
        "format": FORMAT,
        "consistency": consistency,
        "sides": sides,
        "lost_writes": len(lost),
        "lost_updates": len(updates),
        "strongest": name,
        "models": {model: result.valid for model, result in results.items()},
        "anomalies": [model for model, result in results.items() if result.valid is False],
        "converged": eventual.valid,
        "convergence_s": None if eventual.valid is not True or convergence is None
        else round(float(convergence), 3),
    }


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def aggregate(cards: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Many runs' scorecards of one mode as one (see the module docstring)."""
    sides: dict[str, dict[str, Any]] = {}
    for side in SIDES:
        rows = [card["sides"][side] for card in cards if side in card.get("sides", {})]
        invoked = sum(r["invoked"] for r in rows)
        answered = sum(r["answered"] for r in rows)
        reads = sum(r["reads"] for r in rows)
        stale = sum(r["stale_reads"] for r in rows)
        sides[side] = {
            "invoked": invoked,
            "answered": answered,
            "yield": round(answered / invoked, 4) if invoked else None,
            "p50_ms": _median([r["p50_ms"] for r in rows if r["p50_ms"] is not None]),
            "p99_ms": _median([r["p99_ms"] for r in rows if r["p99_ms"] is not None]),
            "reads": reads,
            "stale_reads": stale,
            "stale_rate": round(stale / reads, 4) if reads else None,
            "worst_versions": max((r["worst_versions"] for r in rows), default=0),
            "worst_ms": max((r["worst_ms"] for r in rows), default=0.0),
            "lost_writes": sum(r["lost_writes"] for r in rows),
            "lost_updates": sum(r["lost_updates"] for r in rows),
        }
    strongest = Counter(str(card.get("strongest")) for card in cards)
    anomalies = Counter(model for card in cards for model in card.get("anomalies", []))
    times = [card["convergence_s"] for card in cards if card.get("convergence_s") is not None]
    converged = sum(1 for card in cards if card.get("converged") is True)
    return {
        "runs": len(cards),
        "consistency": cards[0]["consistency"] if cards else None,
        "sides": sides,
        "lost_writes": sum(card.get("lost_writes", 0) for card in cards),
        "lost_updates": sum(card.get("lost_updates", 0) for card in cards),
        "strongest": dict(strongest.most_common()),
        "anomalies": dict(anomalies.most_common()),
        "converged": converged,
        "convergence_s": {"median": _median(times), "max": max(times, default=None)},
    }
