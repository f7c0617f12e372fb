"""The figures of ``chaoslab bench kv``: targets, JSON and rich tables.

Rules: pure functions from measurements to verdicts, a JSON document and
``rich`` renderables; printing is the command's job. The targets are the
issues': chaoslab >= 0.5x etcd's throughput and p99 <= 2x etcd's at every
paired point; failover median and max at or below etcd's in the same run (and
never above 430 / 800 ms); CPU per put (every server together) <= 0.5 ms; an
idle node <= 0.02 of a core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from rich.table import Table

from experiments.bench.kv.failover import FailoverResult
from experiments.bench.kv.load import IdleResult, PointResult
from experiments.bench.kv.profile import ProfileSummary

THROUGHPUT_RATIO: Final = 0.5
P99_RATIO: Final = 2.0
FAILOVER_MEDIAN_MS: Final = 430.0
FAILOVER_MAX_MS: Final = 800.0
CPU_PER_PUT_MS: Final = 0.5
IDLE_CORES_PER_NODE: Final = 0.02
LOADER_BUSY: Final = 0.8
"""A load process using this much of a core may be what limits the throughput."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """One target, checked.

    Attributes:
        check: what is compared, e.g. ``put x16 throughput``.
        chaoslab: chaoslab's figure.
        etcd: etcd's figure (None where the target is absolute).
        target: the rule, e.g. ``>= 0.5x etcd``.
        met: whether chaoslab meets it (None: not measured).
    """

    check: str
    chaoslab: float | None
    etcd: float | None
    target: str
    met: bool | None


def _pairs(points: Sequence[PointResult]) -> list[tuple[PointResult, PointResult]]:
    etcd = {(p.workload, p.clients): p for p in points if p.system == "etcd"}
    return [(p, etcd[(p.workload, p.clients)]) for p in points
            if p.system == "chaoslab" and (p.workload, p.clients) in etcd]


def cpu_per_op_ms(point: PointResult) -> float | None:
    """Server CPU (every member together) per successful operation, in ms."""
    if point.server_cpu is None or point.throughput <= 0:
        return None
    return 1000 * point.server_cpu / point.throughput


def verdicts(points: Sequence[PointResult], failovers: Sequence[FailoverResult],
             idles: Sequence[IdleResult] = ()) -> list[Verdict]:
    """Check every target that the measurements allow.

    Args:
        points: throughput / latency points of either system.
        failovers: failover results of either system.
        idles: idle CPU of either system.

    Returns:
        One verdict per paired point and metric, CPU per put, idle CPU and the
        failover ones for chaoslab.
    """
    found: list[Verdict] = []
    for ours, theirs in _pairs(points):
        if ours.workload == "put":
            mine = cpu_per_op_ms(ours)
            found.append(Verdict(
                check=f"put x{ours.clients} server CPU per put (ms)", chaoslab=mine,
                etcd=cpu_per_op_ms(theirs), target=f"<= {CPU_PER_PUT_MS} ms",
                met=None if mine is None else mine <= CPU_PER_PUT_MS))
        name = f"{ours.workload} x{ours.clients}"
        found.append(Verdict(
            check=f"{name} throughput (ops/s)", chaoslab=ours.throughput, etcd=theirs.throughput,
            target=f">= {THROUGHPUT_RATIO}x etcd",
            met=ours.throughput >= THROUGHPUT_RATIO * theirs.throughput))
        if ours.latency is not None and theirs.latency is not None:
            found.append(Verdict(
                check=f"{name} p99 (ms)", chaoslab=ours.latency.p99_ms, etcd=theirs.latency.p99_ms,
                target=f"<= {P99_RATIO}x etcd",
                met=ours.latency.p99_ms <= P99_RATIO * theirs.latency.p99_ms))
    etcd_idle = next((i for i in idles if i.system == "etcd"), None)
    for idle in idles:
        if idle.system == "chaoslab":
            found.append(Verdict(
                check="idle CPU per node (cores)", chaoslab=idle.cores_per_node,
                etcd=etcd_idle.cores_per_node if etcd_idle else None,
                target=f"<= {IDLE_CORES_PER_NODE}", met=idle.cores_per_node <= IDLE_CORES_PER_NODE))
    etcd_failover = next((f for f in failovers if f.system == "etcd"), None)
    for result in failovers:
        if result.system == "chaoslab":
            found.extend(_failover_verdicts(result, etcd_failover))
    return found


def _failover_verdicts(ours: FailoverResult, theirs: FailoverResult | None) -> list[Verdict]:
    rows: list[tuple[str, float | None, float | None, float]] = [
        ("median", ours.median_ms, theirs.median_ms if theirs else None, FAILOVER_MEDIAN_MS),
        ("max", ours.max_ms, theirs.max_ms if theirs else None, FAILOVER_MAX_MS),
    ]
    found: list[Verdict] = []
    for label, mine, etcd, limit in rows:
        bound = limit if etcd is None else min(limit, etcd)
        rule = f"<= {limit:g} ms" if etcd is None else f"<= etcd (and {limit:g} ms)"
        found.append(Verdict(check=f"failover {label} (ms)", chaoslab=mine, etcd=etcd,
                             target=rule,
                             met=None if mine is None else mine <= bound and ours.failed == 0))
    return found


def document(*, settings: dict[str, Any], points: Sequence[PointResult],
             failovers: Sequence[FailoverResult], idles: Sequence[IdleResult] = (),
             profiles: dict[str, ProfileSummary] | None = None) -> dict[str, Any]:
    """The JSON document of one run (settings, every point, failovers, idle CPU,
    profiles, verdicts)."""
    return {
        "settings": settings,
        "points": [dataclasses.asdict(p) | {"server_cpu_per_op_ms": cpu_per_op_ms(p)}
                   for p in points],
        "failover": [dataclasses.asdict(f) for f in failovers],
        "idle": [dataclasses.asdict(i) for i in idles],
        "profiles": {name: dataclasses.asdict(s) for name, s in (profiles or {}).items()},
        "verdicts": [dataclasses.asdict(v) for v in verdicts(points, failovers, idles)],
        "loader_busy": [f"{p.system} {p.workload} x{p.clients}" for p in points
                        if p.loader_cpu / p.loader_procs >= LOADER_BUSY],
    }


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def points_table(points: Sequence[PointResult], *, title: str) -> Table:
    """One row per system and point: throughput, latency, errors and who used the CPU."""
    table = Table(title=title)
    for column in ("workload", "clients", "system", "ops/s", "p50 ms", "p99 ms", "max ms",
                   "errors", "loader CPU", "server CPU", "CPU ms/op"):
        table.add_column(column, justify="left" if column in ("workload", "system") else "right")
    ordered = sorted(points, key=lambda p: (p.workload != "put", p.workload, p.clients, p.system))
    for p in ordered:
        lat = p.latency
        table.add_row(
            p.workload, str(p.clients), p.system, _num(p.throughput, 0),
            _num(lat.p50_ms if lat else None, 2), _num(lat.p99_ms if lat else None, 2),
            _num(lat.max_ms if lat else None, 1), str(p.errors),
            f"{p.loader_cpu:.2f} ({p.loader_procs}p)", _num(p.server_cpu, 2),
            _num(cpu_per_op_ms(p), 3))
    return table


def idle_table(idles: Sequence[IdleResult]) -> Table:
    """CPU of each idle cluster, per member."""
    table = Table(title="idle cluster (elected leader, no load)")
    for column in ("system", "members", "window s", "cores per member"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for idle in idles:
        table.add_row(idle.system, str(idle.nodes), _num(idle.window_s, 0),
                      _num(idle.cores_per_node, 4))
    return table


def profile_table(name: str, summary: ProfileSummary) -> Table:
    """The functions most often innermost in a profile, and each layer's share."""
    table = Table(title=f"py-spy, leader, {name}: {summary.samples} samples ({summary.raw})")
    table.add_column("innermost function")
    table.add_column("share", justify="right")
    table.add_column("layer (inclusive)")
    table.add_column("share", justify="right")
    rows = max(len(summary.top_self), len(summary.layers))
    for i in range(rows):
        func, share = summary.top_self[i] if i < len(summary.top_self) else ("", None)
        layer, part = summary.layers[i] if i < len(summary.layers) else ("", None)
        table.add_row(func, "" if share is None else f"{share:.1%}",
                      layer, "" if part is None else f"{part:.1%}")
    return table


def failover_table(failovers: Sequence[FailoverResult]) -> Table:
    """Median, max and every trial, per system."""
    table = Table(title="failover: SIGKILL the leader -> first successful write via a survivor")
    for column in ("system", "trials", "median ms", "max ms", "failed", "each trial (ms)"):
        table.add_column(column, justify="left" if column in ("system", "each trial (ms)")
                         else "right")
    for f in failovers:
        each = " ".join("timeout" if t is None else f"{t:.0f}" for t in f.trials_ms)
        table.add_row(f.system, str(len(f.trials_ms)), _num(f.median_ms), _num(f.max_ms),
                      str(f.failed), each)
    return table


def verdict_table(found: Sequence[Verdict]) -> Table:
    """Each target: chaoslab's figure, etcd's, the rule and whether it is met."""
    table = Table(title="targets")
    for column in ("check", "chaoslab", "etcd", "target", "met"):
        table.add_column(column, justify="left" if column in ("check", "target") else "right")
    marks = {True: "[green]yes[/green]", False: "[red]NO[/red]", None: "-"}
    for v in found:
        table.add_row(v.check, _num(v.chaoslab, 2), _num(v.etcd, 2), v.target, marks[v.met])
    return table
