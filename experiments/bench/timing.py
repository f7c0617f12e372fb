"""``chaoslab bench timing``: Raft timing against link latency, on real local nodes.

Rules: measurement only, bounded: every run is a real ``chaoslab run`` of an experiment
built here (``experiments.runner.api.run_experiment`` on the ``local`` backend: node
processes on 127.0.0.1 behind the embedded Toxiproxy), with its run directory under
``--runs-dir``; the runner starts, heals and stops the cluster (Ctrl-C included) and bounds
each run in time. The figures are read from what the runner recorded: availability from
``results.json``'s per-window table, leader and term changes from ``events.jsonl``
(``leader`` and ``role`` events), latency from the history. Two parts:

- **latency points**: for each ``--latency`` point, ``--quiet`` seconds, then ``ms ± jitter``
  on every peer link for ``--window`` seconds, then ``--quiet`` seconds again; per point the
  yield (answered / invoked) in the fault window and in the quiet windows, leader and term
  changes in the window and over the whole run, the time without an agreed leader in the
  window, p50 / p99 of the answered operations invoked in the window, linearizability;
- **soak**: ``--soak`` seconds of a heavier load with no fault at all: every leader or
  term change after the first leader is spurious; plus the CPU each node process (and the
  proxy, and this process: the clients) used, in cores, read from ``/proc`` by pid.

How changes are counted: a *leader change* is a ``leader`` event naming an agreed leader
(a majority follows it in its term) whose (node, term) differs from the last one named;
the first one named is the baseline, and a spell without an agreed leader (``leader:
null``) is no change by itself. *Term changes* are how far the highest term any node
reported (``role`` events) advanced: a term the status poll never saw still counts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from experiments import logs
from experiments.backends import BackendOptions
from experiments.history import Op, client_operations
from experiments.runner import analysis
from experiments.runner.api import RunOutcome, run_experiment
from experiments.runner.engine import Progress
from experiments.spec.model import Experiment, Timing

NS_PER_S: Final = 1_000_000_000
EXIT_INTERRUPTED: Final = 130
MAX_LATENCY_MS: Final = 10_000.0
DEFAULT_LATENCIES: Final = "50,100,200"

# ---- input ------------------------------------------------------------------------------


def parse_latencies(text: str) -> tuple[float, ...]:
    """Latency points in ms from ``"50,100,200"`` (each a number in 0..10000, no repeats).

    Raises:
        ValueError: what was expected and what was found.
    """
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        msg = f"expected comma-separated milliseconds such as 50,100,200, found {text!r}"
        raise ValueError(msg)
    points = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            msg = f"expected a number of milliseconds, found {part!r}"
            raise ValueError(msg) from None
        if not 0 <= value <= MAX_LATENCY_MS:  # also refuses nan and inf
            msg = f"latency must lie in 0..{MAX_LATENCY_MS:g} ms, found {part}"
            raise ValueError(msg)
        points.append(value)
    if len(set(points)) != len(points):
        msg = f"each latency point once, found {text!r}"
        raise ValueError(msg)
    return tuple(points)


def _latencies_option(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[
        float, ...]:
    try:
        return parse_latencies(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def make_timing(tick_ms: int | None, election_tick: int | None,
                heartbeat_tick: int | None) -> Timing:
    """The experiment's ``cluster.timing`` with the given overrides (None: the default).

    Raises:
        ValueError: the combination is refused (the spec's reason).
    """
    given: dict[str, Any] = {}
    if tick_ms is not None:
        given["tick"] = tick_ms / 1000
    if election_tick is not None:
        given["election-ticks"] = election_tick
    if heartbeat_tick is not None:
        given["heartbeat-ticks"] = heartbeat_tick
    try:
        return Timing.model_validate(given)
    except ValidationError as exc:
        problem = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ValueError(problem) from None


def timing_json(timing: Timing) -> dict[str, Any]:
    """The timing as the JSON document shows it."""
    tick_ms = round(timing.tick * 1000, 3)
    return {
        "tick_ms": tick_ms,
        "election_ticks": timing.election_ticks,
        "heartbeat_ticks": timing.heartbeat_ticks,
        "heartbeat_ms": round(tick_ms * timing.heartbeat_ticks, 3),
        "election_timeout_ms": [round(tick_ms * timing.election_ticks, 3),
                                round(tick_ms * 2 * timing.election_ticks, 3)],
    }


# ---- the experiments ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Load:
    """The client workload of one part."""

    clients: int
    rate: float
    keys: int


MIX: Final = {"read": 2, "write": 2, "cas": 1}
POINT_LOAD: Final = Load(clients=10, rate=100.0, keys=3)
"""As ``experiments/catalog/latency-jitter.yaml``."""


def _cluster(nodes: int, timing: Timing) -> dict[str, Any]:
    return {"nodes": nodes, "timing": timing.model_dump(by_alias=True)}


def _workload(load: Load) -> dict[str, Any]:
    return {"kind": "register", "clients": load.clients, "keys": load.keys,
            "rate": load.rate, "mix": dict(MIX)}


def point_name(latency_ms: float) -> str:
    """The experiment's name for a latency point (``timing-latency-50ms``)."""
    return f"timing-latency-{latency_ms:g}ms".replace(".", "-")


def latency_experiment(latency_ms: float, jitter_ms: float, *, nodes: int, timing: Timing,
                       quiet_s: float, window_s: float, load: Load = POINT_LOAD) -> Experiment:
    """``quiet_s`` quiet, ``latency_ms ± jitter_ms`` on every peer link for ``window_s``,
    ``quiet_s`` quiet again (the recovery tail)."""
    return Experiment.model_validate({
        "name": point_name(latency_ms),
        "description": (
            f"chaoslab bench timing: {latency_ms:g} ± {jitter_ms:g} ms on every peer link "
            f"for {window_s:g} s between two quiet {quiet_s:g} s spells."
        ),
        "cluster": _cluster(nodes, timing),
        "workload": _workload(load),
        "duration": 2 * quiet_s + window_s,
        "nemesis": [{"at": quiet_s, "fault": "latency", "ms": latency_ms, "jitter": jitter_ms,
                     "for": window_s}],
        "expect": {"linearizable": True, "lost-writes": 0},
    })


def soak_experiment(*, nodes: int, timing: Timing, seconds: float, load: Load) -> Experiment:
    """A loaded run with no fault: every leader change in it is spurious."""
    return Experiment.model_validate({
        "name": "timing-soak",
        "description": f"chaoslab bench timing: {seconds:g} s of load and no fault.",
        "cluster": _cluster(nodes, timing),
        "workload": _workload(load),
        "duration": seconds,
        "expect": {"linearizable": True, "lost-writes": 0},
    })


# ---- summarising (pure) ---------------------------------------------------------------------


def _inside(time_ns: int, start: int | None, end: int | None) -> bool:
    return (start is None or time_ns >= start) and (end is None or time_ns < end)


def leader_changes(events: Iterable[Mapping[str, Any]], start: int | None = None,
                   end: int | None = None) -> int:
    """Leader changes in ``[start, end)`` ns (None: unbounded): ``leader`` events naming a
    (node, term) other than the last one named; the first one named is the baseline."""
    last: tuple[Any, Any] | None = None
    count = 0
    for event in events:
        if event["type"] != "leader" or event.get("leader") is None:
            continue
        named = (event["leader"], event.get("term"))
        if last is not None and named != last and _inside(int(event["time"]), start, end):
            count += 1
        last = named
    return count


def term_changes(events: Sequence[Mapping[str, Any]], start: int | None = None,
                 end: int | None = None) -> int:
    """How far the highest term any node reported (``role`` events) advanced in
    ``[start, end)`` ns. The baseline is the highest term reported before ``start``; with
    no ``start``, the highest of the first status reading (its events share one time)."""
    terms = [(int(e["time"]), int(e["term"])) for e in events
             if e["type"] == "role" and e.get("term") is not None]
    if not terms:
        return 0
    if start is None:
        start = terms[0][0] + 1
    before = [term for when, term in terms if when < start]
    inside = [term for when, term in terms if start <= when and (end is None or when < end)]
    if not inside:
        return 0
    baseline = max(before) if before else inside[0]
    return max(0, max(inside) - baseline)


def leaderless_s(events: Iterable[Mapping[str, Any]], start: int, end: int) -> float:
    """Seconds of ``[start, end)`` ns without an agreed leader, as the status poll saw it
    (no reading before ``start``: a leader is assumed, as the runner starts with one)."""
    without = 0
    since: int | None = None
    for event in events:
        if event["type"] != "leader":
            continue
        when = min(max(int(event["time"]), start), end)
        if event.get("leader") is None:
            if since is None:
                since = when
        elif since is not None:
            without += when - since
            since = None
    if since is not None:
        without += end - since
    return round(without / NS_PER_S, 3)


def fault_span(events: Iterable[Mapping[str, Any]]) -> tuple[int, int] | None:
    """(start, end) ns of the first fault, from ``fault-start`` / ``fault-end`` events."""
    start: int | None = None
    for event in events:
        if event["type"] == "fault-start" and start is None:
            start = int(event["time"])
        elif event["type"] == "fault-end" and start is not None:
            return start, int(event["time"])
    return None


def window_yield(table: Mapping[str, Any], kind: str) -> tuple[int, int]:
    """(answered, invoked) over every window of ``kind`` (``quiet`` / ``fault``) of the
    runner's availability table: answered means before the window ended."""
    answered = invoked = 0
    for window in table.get("windows", []):
        if window["kind"] != kind:
            continue
        for side in window["sides"]:
            answered += int(side["answered"])
            invoked += int(side["invoked"])
    return answered, invoked


def ratio(part: int, whole: int) -> float | None:
    """``part / whole`` to 4 places (None for nothing)."""
    return round(part / whole, 4) if whole else None


def window_latencies(history: Sequence[Op], start: int, end: int) -> list[float]:
    """Latency (ms) of the answered client operations invoked in ``[start, end)`` ns."""
    found = []
    for op in client_operations(history):
        if op.invoke.extra.get("final") or not start <= op.start < end:
            continue
        latency = analysis.latency_ms(op)
        if latency is not None:
            found.append(latency)
    return found


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def combine_linearizable(values: Iterable[bool | str | None]) -> bool | str:
    """Several runs' verdicts: False if any was not linearizable, True if all were,
    else ``unknown``."""
    chosen = list(values)
    if any(v is False for v in chosen):
        return False
    if chosen and all(v is True for v in chosen):
        return True
    return "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuUse:
    """CPU used over a measured span, in cores (1.0: one core busy)."""

    seconds: float
    nodes: dict[str, float]
    proxy: float | None
    runner: float


@dataclass(slots=True, kw_only=True)
class RunFigures:
    """What one run measured (times relative to the run's start)."""

    seed: int
    verdict: str
    dir: str | None
    linearizable: bool | str | None
    lost_writes: int | None
    operations: int
    window: tuple[float, float] | None
    window_answered: int = 0
    window_invoked: int = 0
    quiet_answered: int = 0
    quiet_invoked: int = 0
    leader_changes_window: int = 0
    term_changes_window: int = 0
    leaderless_window_s: float = 0.0
    leader_changes_total: int = 0
    term_changes_total: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    cpu: CpuUse | None = None
    failure: str | None = None

    def to_json(self) -> dict[str, Any]:
        """One run, for the JSON document (without the raw latencies)."""
        doc = asdict(self)
        doc.pop("latencies_ms")
        p50, p99 = (analysis.percentile(self.latencies_ms, q) for q in (0.5, 0.99))
        doc |= {"window_yield": ratio(self.window_answered, self.window_invoked),
                "quiet_yield": ratio(self.quiet_answered, self.quiet_invoked),
                "p50_ms": _rounded(p50), "p99_ms": _rounded(p99)}
        return doc


def figures_of(outcome: RunOutcome, cpu: CpuUse | None = None) -> RunFigures:
    """One run's figures from what the runner recorded (results, events, history)."""
    results = outcome.results
    events = outcome.events
    lost = next((c["measured"] for c in results.get("checks", []) if c["name"] == "lost-writes"),
                None)
    failure = next((c["summary"] for c in results.get("checks", []) if c["name"] == "run"), None)
    span = fault_span(events)
    table = results.get("availability") or {}
    figures = RunFigures(
        seed=outcome.seed,
        verdict=outcome.verdict,
        dir=None if outcome.dir is None else str(outcome.dir),
        linearizable=(results.get("linearizability") or {}).get("valid"),
        lost_writes=None if lost is None else int(lost),
        operations=int((results.get("stats") or {}).get("operations", 0)),
        window=None if span is None else (span[0] / NS_PER_S, span[1] / NS_PER_S),
        leader_changes_total=leader_changes(events),
        term_changes_total=term_changes(events),
        wall_s=float(results.get("wall_s", 0.0)),
        cpu=cpu,
        failure=failure,
    )
    figures.quiet_answered, figures.quiet_invoked = window_yield(table, "quiet")
    if span is not None:
        start, end = span
        figures.window_answered, figures.window_invoked = window_yield(table, "fault")
        figures.leader_changes_window = leader_changes(events, start, end)
        figures.term_changes_window = term_changes(events, start, end)
        figures.leaderless_window_s = leaderless_s(events, start, end)
        figures.latencies_ms = window_latencies(outcome.history, start, end)
    return figures


def summarise_point(latency_ms: float, jitter_ms: float, runs: Sequence[RunFigures]) -> dict[
        str, Any]:
    """One latency point over its runs: yields over every run's operations, changes summed,
    latency percentiles over every run's answered operations."""
    latencies = [lat for run in runs for lat in run.latencies_ms]
    return {
        "latency_ms": latency_ms,
        "jitter_ms": jitter_ms,
        "runs": len(runs),
        "window_yield": ratio(sum(r.window_answered for r in runs),
                              sum(r.window_invoked for r in runs)),
        "quiet_yield": ratio(sum(r.quiet_answered for r in runs),
                             sum(r.quiet_invoked for r in runs)),
        "window_invoked": sum(r.window_invoked for r in runs),
        "leader_changes_window": sum(r.leader_changes_window for r in runs),
        "term_changes_window": sum(r.term_changes_window for r in runs),
        "leaderless_window_s": round(sum(r.leaderless_window_s for r in runs), 3),
        "leader_changes_total": sum(r.leader_changes_total for r in runs),
        "term_changes_total": sum(r.term_changes_total for r in runs),
        "p50_ms": _rounded(analysis.percentile(latencies, 0.5)),
        "p99_ms": _rounded(analysis.percentile(latencies, 0.99)),
        "linearizable": combine_linearizable(r.linearizable for r in runs),
        "lost_writes": sum(r.lost_writes or 0 for r in runs),
        "verdicts": [r.verdict for r in runs],
        "per_run": [r.to_json() for r in runs],
    }


def summarise_soak(seconds: float, load: Load, runs: Sequence[RunFigures]) -> dict[str, Any]:
    """The soak over its runs: spurious changes summed, throughput and CPU per run."""
    ops = sum(r.operations for r in runs)
    cpus = [r.cpu for r in runs if r.cpu is not None]
    node_cores = [c for cpu in cpus for c in cpu.nodes.values()]
    return {
        "seconds": seconds,
        "clients": load.clients,
        "rate": load.rate,
        "runs": len(runs),
        "operations": ops,
        "ops_per_s": round(ops / (seconds * len(runs)), 1) if runs and seconds else None,
        "yield": ratio(sum(r.quiet_answered for r in runs), sum(r.quiet_invoked for r in runs)),
        "leader_changes": sum(r.leader_changes_total for r in runs),
        "term_changes": sum(r.term_changes_total for r in runs),
        "linearizable": combine_linearizable(r.linearizable for r in runs),
        "lost_writes": sum(r.lost_writes or 0 for r in runs),
        "verdicts": [r.verdict for r in runs],
        "cpu_per_node_cores": {
            "mean": round(sum(node_cores) / len(node_cores), 3),
            "max": round(max(node_cores), 3),
        } if node_cores else None,
        "per_run": [r.to_json() for r in runs],
    }


# ---- CPU by pid -------------------------------------------------------------------------------


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far, from ``/proc`` (None: gone, or no
    ``/proc`` on this system)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


class CpuMeter:
    """CPU of the cluster's processes over the run's workload phase, sampled from the
    runner's progress callback (each status reading): from the first reading with a
    leader to the last one of the workload phase.

    Args:
        pids: reads the node and proxy pids (``{"n1": pid, ..., "proxy": pid}``) once the
            cluster runs; an empty answer means CPU is not measured.
    """

    def __init__(self, pids: Callable[[], dict[str, int]]) -> None:
        self._pids_of = pids
        self._pids: dict[str, int] | None = None
        self._first: tuple[float, float, dict[str, float]] | None = None
        self._last: tuple[float, float, dict[str, float]] | None = None

    def _sample(self) -> tuple[float, float, dict[str, float]]:
        assert self._pids is not None
        found = {name: cpu for name, pid in self._pids.items()
                 if (cpu := process_cpu_s(pid)) is not None}
        return time.monotonic(), _own_cpu_s(), found

    def __call__(self, progress: Progress) -> None:
        """The runner's ``on_progress``."""
        if progress.phase != "workload" or progress.leader is None:
            return
        if self._pids is None:
            try:
                self._pids = self._pids_of()
            except Exception:  # no record, no pids: no CPU figures, the run goes on
                self._pids = {}
        if not self._pids:
            return
        sample = self._sample()
        if self._first is None:
            self._first = sample
        else:
            self._last = sample

    def result(self) -> CpuUse | None:
        """Cores per process over the span (None: fewer than two samples)."""
        if self._first is None or self._last is None:
            return None
        (t0, own0, cpu0), (t1, own1, cpu1) = self._first, self._last
        wall = t1 - t0
        if wall <= 0:
            return None
        used = {name: round((cpu1[name] - cpu0[name]) / wall, 3)
                for name in cpu0 if name in cpu1}
        proxy = used.pop("proxy", None)
        return CpuUse(seconds=round(wall, 2), nodes=used, proxy=proxy,
                      runner=round((own1 - own0) / wall, 3))


def local_pids(data_dir: Path) -> dict[str, int]:
    """The node and proxy pids of the local cluster recorded in ``data_dir``."""
    from experiments.cluster.local import LocalCluster  # noqa: PLC0415 - imported lazily on purpose

    state = LocalCluster(data_dir).state()
    pids = {f"n{n.id}": n.pid for n in state.nodes if n.pid is not None}
    if state.proxy is not None and state.proxy.pid is not None and state.proxy.kind != "external":
        pids["proxy"] = state.proxy.pid
    return pids


# ---- running ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What every run of the bench shares."""

    runs_dir: Path | None
    check_time_limit_s: float = 60.0


def run_once(experiment: Experiment, seed: int, settings: Settings, *,
             render: bool = True) -> RunFigures:
    """One local run of ``experiment`` through the runner, with the nodes' CPU measured.

    The cluster lives in a temporary directory of ours (so its pids can be read) and is
    removed afterwards; the runner stops the cluster, Ctrl-C included.
    """
    directory = Path(tempfile.mkdtemp(prefix="chaoslab-bench-timing-"))
    meter = CpuMeter(lambda: local_pids(directory))
    try:
        outcome = run_experiment(
            experiment, backend="local", seed=seed, runs_dir=settings.runs_dir,
            options=BackendOptions(data_dir=directory), on_progress=meter,
            check_time_limit_s=settings.check_time_limit_s, render=render,
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return figures_of(outcome, meter.result())


def run_points(latencies: Sequence[float], *, jitter_ratio: float, nodes: int, timing: Timing,
               quiet_s: float, window_s: float, runs: int, seed: int, settings: Settings,
               on_run: Callable[[str], None] = lambda _: None) -> list[dict[str, Any]]:
    """Every latency point, ``runs`` times each (seeds ``seed``, ``seed + 1``, ...)."""
    rows = []
    for latency in latencies:
        jitter = round(latency * jitter_ratio, 3)
        experiment = latency_experiment(latency, jitter, nodes=nodes, timing=timing,
                                        quiet_s=quiet_s, window_s=window_s)
        figures = []
        for i in range(runs):
            on_run(f"{experiment.name} seed {seed + i}")
            figures.append(run_once(experiment, seed + i, settings))
        rows.append(summarise_point(latency, jitter, figures))
    return rows


def run_soak(seconds: float, load: Load, *, nodes: int, timing: Timing, runs: int, seed: int,
             settings: Settings, on_run: Callable[[str], None] = lambda _: None) -> dict[
                 str, Any]:
    """The loaded, fault-free runs (no report.html: a long soak's history is large)."""
    experiment = soak_experiment(nodes=nodes, timing=timing, seconds=seconds, load=load)
    figures = []
    for i in range(runs):
        on_run(f"{experiment.name} seed {seed + i}")
        figures.append(run_once(experiment, seed + i, settings, render=False))
    return summarise_soak(seconds, load, figures)


# ---- the command --------------------------------------------------------------------------


@click.command("timing")
@click.option("--latency", "latencies", default=DEFAULT_LATENCIES, show_default=True,
              callback=_latencies_option,
              help="Comma-separated latency points in ms, added to every peer link.")
@click.option("--jitter-ratio", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Jitter as a share of each point's latency (0.5: 100 ± 50 ms).")
@click.option("--nodes", type=click.IntRange(2, 9), default=5, show_default=True)
@click.option("--window", type=click.FloatRange(0.5, 3600), default=10.0, show_default=True,
              help="Seconds of latency per point.")
@click.option("--quiet", type=click.FloatRange(1, 600), default=5.0, show_default=True,
              help="Quiet seconds before the latency window and again after it.")
@click.option("--soak", type=click.FloatRange(0, 86_400), default=300.0, show_default=True,
              help="Seconds of the loaded fault-free run (0: skip it).")
@click.option("--skip-soak", is_flag=True, help="Skip the loaded fault-free run.")
@click.option("--soak-clients", type=click.IntRange(1, 1000), default=16, show_default=True)
@click.option("--soak-rate", type=click.FloatRange(1, 100_000), default=2000.0,
              show_default=True, help="Soak operations per second, all clients together.")
@click.option("--tick-ms", type=click.IntRange(1, 10_000), default=None,
              help="The nodes' Raft tick [default: the node's, 10 ms].")
@click.option("--election-tick", type=click.IntRange(2, 10_000), default=None,
              help="Election timeout in ticks (drawn from [this, 2 x this)) [default: 15].")
@click.option("--heartbeat-tick", type=click.IntRange(1, 10_000), default=None,
              help="Heartbeat interval in ticks [default: 3].")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True,
              help="The first run's seed; run k of a point uses seed + k - 1.")
@click.option("--runs", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Runs per latency point (and of the soak).")
@click.option("--check-time-limit", type=click.FloatRange(min=0.1), default=60.0,
              show_default=True, help="Seconds for the linearizability search per run.")
@click.option("--runs-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("runs/bench-timing"), show_default=True,
              help="Where the run directories go.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the JSON document to this file.")
@click.pass_context
def timing_bench(ctx: click.Context, latencies: tuple[float, ...], jitter_ratio: float,
                 nodes: int, window: float, quiet: float, soak: float, skip_soak: bool,
                 soak_clients: int, soak_rate: float, tick_ms: int | None,
                 election_tick: int | None, heartbeat_tick: int | None, seed: int, runs: int,
                 check_time_limit: float, runs_dir: Path, as_json: bool,
                 out: Path | None) -> None:
    """Raft timing against link latency on local nodes: availability and leader changes
    under latency, and spurious leader changes under load without faults."""
    try:
        timing = make_timing(tick_ms, election_tick, heartbeat_tick)
    except ValueError as exc:
        raise click.BadParameter(
            str(exc), param_hint="--tick-ms / --election-tick / --heartbeat-tick") from None
    settings_obj = ctx.find_root().obj or {}
    logs.configure(settings_obj.get("log_format", "auto"), "error")
    console = Console(width=160, stderr=as_json, highlight=False)
    settings = Settings(runs_dir=runs_dir, check_time_limit_s=check_time_limit)
    soak_load = Load(clients=soak_clients, rate=soak_rate, keys=10)

    def announce(what: str) -> None:
        console.print(f"[dim]running {what} ...[/]")

    document: dict[str, Any] = {
        "bench": "timing",
        "backend": "local",
        "nodes": nodes,
        "timing": timing_json(timing),
        "window_s": window,
        "quiet_s": quiet,
        "jitter_ratio": jitter_ratio,
        "seed": seed,
        "runs": runs,
        "load": asdict(POINT_LOAD),
        "latency": [],
        "soak": None,
    }
    try:
        document["latency"] = run_points(
            latencies, jitter_ratio=jitter_ratio, nodes=nodes, timing=timing, quiet_s=quiet,
            window_s=window, runs=runs, seed=seed, settings=settings, on_run=announce)
        if soak > 0 and not skip_soak:
            document["soak"] = run_soak(soak, soak_load, nodes=nodes, timing=timing, runs=runs,
                                        seed=seed, settings=settings, on_run=announce)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: every fault was healed and the cluster stopped")
        sys.exit(EXIT_INTERRUPTED)
    text = json.dumps(document, indent=2)
    if out is not None:
        with contextlib.suppress(FileExistsError):
            out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    if as_json:
        click.echo(text)
        return
    print_document(console, document)


def _shown(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _timing_text(timing: Mapping[str, Any]) -> str:
    low, high = timing["election_timeout_ms"]
    return (f"tick {timing['tick_ms']:g} ms, heartbeat {timing['heartbeat_ms']:g} ms, "
            f"election timeout {low:g}-{high:g} ms")


def print_document(console: Console, document: Mapping[str, Any]) -> None:
    """The two tables (and a line on the soak's CPU)."""
    timing = _timing_text(document["timing"])
    if document["latency"]:
        table = Table(title=(
            f"Latency on every peer link: {document['nodes']} local nodes, {timing}; "
            f"{document['window_s']:g} s window after {document['quiet_s']:g} s quiet, "
            f"{document['load']['clients']} clients"))
        for column in ("latency ms", "runs", "window yield", "quiet yield",
                       "leader changes window / all", "term changes window / all",
                       "leaderless s", "window p50 / p99 ms", "linearizable", "lost",
                       "verdicts"):
            table.add_column(column)
        for row in document["latency"]:
            table.add_row(
                f"{row['latency_ms']:g} ± {row['jitter_ms']:g}", str(row["runs"]),
                _shown(row["window_yield"]), _shown(row["quiet_yield"]),
                f"{row['leader_changes_window']} / {row['leader_changes_total']}",
                f"{row['term_changes_window']} / {row['term_changes_total']}",
                _shown(row["leaderless_window_s"], 1),
                f"{_shown(row['p50_ms'], 1)} / {_shown(row['p99_ms'], 1)}",
                _shown(row["linearizable"]), str(row["lost_writes"]),
                " ".join(row["verdicts"]),
            )
        console.print(table)
    soak = document.get("soak")
    if soak is None:
        return
    table = Table(title=(f"No faults, under load: {document['nodes']} local nodes, {timing}; "
                         f"{soak['clients']} clients at up to {soak['rate']:g} ops/s"))
    for column in ("seconds", "runs", "ops/s", "yield", "leader changes", "term changes",
                   "linearizable", "lost", "CPU per node (mean / max cores)", "verdicts"):
        table.add_column(column)
    cpu = soak["cpu_per_node_cores"]
    table.add_row(
        f"{soak['seconds']:g}", str(soak["runs"]), _shown(soak["ops_per_s"], 1),
        _shown(soak["yield"]), str(soak["leader_changes"]), str(soak["term_changes"]),
        _shown(soak["linearizable"]), str(soak["lost_writes"]),
        "—" if cpu is None else f"{cpu['mean']:.3f} / {cpu['max']:.3f}",
        " ".join(soak["verdicts"]),
    )
    console.print(table)
    for run in soak["per_run"]:
        use = run["cpu"]
        if use is None:
            continue
        nodes = ", ".join(f"{name} {cores:.2f}" for name, cores in sorted(use["nodes"].items()))
        proxy = "—" if use["proxy"] is None else f"{use['proxy']:.2f}"
        console.print(f"seed {run['seed']}: CPU in cores over {use['seconds']:g} s: {nodes}; "
                      f"proxy {proxy}; runner and clients {use['runner']:.2f}")
