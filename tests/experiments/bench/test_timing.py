"""``chaoslab bench timing``: option parsing, the experiments it builds, counting leader and
term changes, window yields, CPU by pid, and one short real run on local nodes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from experiments.bench import timing as bench
from experiments.cli import main
from experiments.runner.api import RunOutcome
from experiments.runner.engine import Progress
from experiments.runner.record import Recorder
from experiments.schedule import NemesisKind
from nodes.timing import DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS, DEFAULT_TICK_MS

S = 1_000_000_000


def _leader(t: float, node: str | None, term: int | None) -> dict[str, Any]:
    return {"time": int(t * S), "type": "leader", "leader": node, "term": term}


def _role(t: float, node: str, term: int | None) -> dict[str, Any]:
    return {"time": int(t * S), "type": "role", "node": node, "role": "follower", "term": term,
            "leader": None}


class TestParseLatencies:
    def test_comma_separated_points(self) -> None:
        """Whole and fractional milliseconds, spaces allowed, order kept."""
        assert (50.0, 100.0, 2.5, 0.0) == bench.parse_latencies("50, 100,2.5,0")

    @pytest.mark.parametrize(("text", "says"), [
        ("50,x", "found 'x'"),
        ("-50", "must lie in 0..10000"),
        ("50,-1", "must lie in 0..10000"),
        ("20000", "must lie in 0..10000"),
        ("nan", "must lie in 0..10000"),
        ("inf", "must lie in 0..10000"),
        ("", "comma-separated"),
        ("50,,100", "comma-separated"),
        ("50,50", "each latency point once"),
    ])
    def test_bad_points_are_refused_with_the_reason(self, text: str, says: str) -> None:
        with pytest.raises(ValueError) as caught:
            bench.parse_latencies(text)

        assert says in str(caught.value)


class TestBadInputOnTheCommandLine:
    @pytest.mark.parametrize(("args", "option", "says"), [
        (["--latency", "50,x"], "--latency", "found 'x'"),
        (["--latency", "-5"], "--latency", "must lie in 0..10000"),
        (["--window", "-1"], "--window", "-1"),
        (["--soak", "-3"], "--soak", "-3"),
        (["--nodes", "0"], "--nodes", "0"),
        (["--runs", "0"], "--runs", "0"),
        (["--jitter-ratio", "1.5"], "--jitter-ratio", "1.5"),
        (["--tick-ms", "0"], "--tick-ms", "0"),
        (["--heartbeat-tick", "15"], "--heartbeat-tick", "must be below election-ticks"),
        (["--election-tick", "4", "--heartbeat-tick", "4"], "--heartbeat-tick",
         "heartbeat-ticks (4) must be below election-ticks (4)"),
    ])
    def test_exit_2_naming_the_option(self, args: list[str], option: str, says: str,
                                      tmp_path: Path) -> None:
        """Refused before any cluster starts: no run directory is made."""
        runs = tmp_path / "runs"
        result = CliRunner().invoke(main, ["bench", "timing", "--runs-dir", str(runs), *args])

        assert 2 == result.exit_code
        assert option in result.output
        assert says in result.output
        assert not runs.exists()


class TestTiming:
    def test_defaults_are_the_nodes(self) -> None:
        timing = bench.make_timing(None, None, None)

        assert (DEFAULT_TICK_MS / 1000, DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS) == (
            timing.tick, timing.election_ticks, timing.heartbeat_ticks)

    def test_overrides_reach_the_experiment_and_its_json(self) -> None:
        timing = bench.make_timing(20, 30, 5)
        experiment = bench.latency_experiment(50, 25, nodes=3, timing=timing, quiet_s=5,
                                              window_s=10)

        assert (0.02, 30, 5) == (experiment.cluster.timing.tick,
                                 experiment.cluster.timing.election_ticks,
                                 experiment.cluster.timing.heartbeat_ticks)
        assert {"tick_ms": 20.0, "election_ticks": 30, "heartbeat_ticks": 5,
                "heartbeat_ms": 100.0, "election_timeout_ms": [600.0, 1200.0]} == \
            bench.timing_json(timing)


class TestExperiments:
    def test_latency_point_is_quiet_fault_quiet(self) -> None:
        timing = bench.make_timing(None, None, None)
        experiment = bench.latency_experiment(100, 50, nodes=5, timing=timing, quiet_s=5,
                                              window_s=10)
        assert isinstance(experiment.nemesis, tuple)
        (step,) = experiment.nemesis

        assert "timing-latency-100ms" == experiment.name
        assert (20.0, 5, 10) == (experiment.duration, experiment.cluster.nodes,
                                 experiment.workload.clients)
        assert (NemesisKind.LATENCY, 5.0, 10.0, 100.0, 50.0) == (
            step.fault, step.at, step.for_, step.ms, step.jitter)
        assert experiment.expect.linearizable is True

    def test_fractional_point_names_are_valid(self) -> None:
        timing = bench.make_timing(None, None, None)

        assert "timing-latency-2-5ms" == bench.latency_experiment(
            2.5, 1.25, nodes=3, timing=timing, quiet_s=1, window_s=1).name

    def test_soak_has_no_faults(self) -> None:
        timing = bench.make_timing(None, None, None)
        experiment = bench.soak_experiment(nodes=5, timing=timing, seconds=300,
                                           load=bench.Load(clients=16, rate=2000, keys=10))

        assert () == experiment.nemesis
        assert (300.0, 16, 2000.0, 10) == (experiment.duration, experiment.workload.clients,
                                           experiment.workload.rate, experiment.workload.keys)


class TestLeaderChanges:
    EVENTS = (
        _leader(0.01, "n1", 1),   # baseline
        _leader(2.0, None, None),  # no agreed leader for a while: no change by itself
        _leader(2.3, "n1", 1),    # the same leader again: no change
        _leader(5.0, None, None),
        _leader(5.4, "n3", 2),    # a new leader: 1
        _leader(6.0, "n3", 4),    # re-elected in a later term: 2
        _leader(9.0, "n2", 5),    # after the window: 3
    )

    def test_whole_run_counts_each_new_leader_and_term_after_the_first(self) -> None:
        assert 3 == bench.leader_changes(self.EVENTS)

    def test_window_counts_only_changes_inside_it(self) -> None:
        assert 2 == bench.leader_changes(self.EVENTS, 5 * S, 8 * S)
        assert 0 == bench.leader_changes(self.EVENTS, 0, 5 * S)

    def test_no_events_no_changes(self) -> None:
        assert 0 == bench.leader_changes([])
        assert 0 == bench.leader_changes([_leader(1.0, "n2", 3)])

    def test_leaderless_time_in_window(self) -> None:
        """0.3 s of the first spell lies in [2.0, 3.0); the second spell is outside."""
        assert 0.3 == bench.leaderless_s(self.EVENTS, 2 * S, 3 * S)
        assert 0.7 == bench.leaderless_s(self.EVENTS, 2 * S, 6 * S)
        assert 0.0 == bench.leaderless_s(self.EVENTS, 6 * S, 8 * S)

    def test_leaderless_until_the_window_ends(self) -> None:
        events = [_leader(0.0, "n1", 1), _leader(1.0, None, None)]

        assert 1.5 == bench.leaderless_s(events, 0, int(2.5 * S))


class TestTermChanges:
    EVENTS = (
        _role(0.01, "n1", 2),
        _role(0.01, "n2", 3),     # the first reading: baseline 3 (its highest)
        _role(0.01, "n3", None),  # unreachable: no term
        _role(4.0, "n1", 3),      # catching up: no change
        _role(5.5, "n2", 4),
        _role(6.0, "n3", 7),      # terms the poll never saw still count: 4 in the window
        _role(9.0, "n1", 8),
    )

    def test_whole_run_from_the_first_readings_highest_term(self) -> None:
        assert 5 == bench.term_changes(self.EVENTS)

    def test_window(self) -> None:
        assert 4 == bench.term_changes(self.EVENTS, 5 * S, 8 * S)
        assert 0 == bench.term_changes(self.EVENTS, 1 * S, 5 * S)
        assert 1 == bench.term_changes(self.EVENTS, 8 * S, 10 * S)

    def test_no_terms(self) -> None:
        assert 0 == bench.term_changes([])
        assert 0 == bench.term_changes([_leader(1.0, "n1", 1)])


TABLE = {
    "windows": [
        {"kind": "quiet", "sides": [{"side": "all", "answered": 98, "invoked": 100}]},
        {"kind": "fault", "sides": [{"side": "majority", "answered": 30, "invoked": 40},
                                    {"side": "minority", "answered": 0, "invoked": 20}]},
        {"kind": "quiet", "sides": [{"side": "all", "answered": 49, "invoked": 50}]},
    ],
}


class TestWindowYield:
    def test_sums_every_window_and_side_of_a_kind(self) -> None:
        assert (30, 60) == bench.window_yield(TABLE, "fault")
        assert (147, 150) == bench.window_yield(TABLE, "quiet")
        assert 0.5 == bench.ratio(30, 60)

    def test_nothing_invoked_is_no_yield(self) -> None:
        assert (0, 0) == bench.window_yield({}, "fault")
        assert bench.ratio(0, 0) is None

    def test_fault_span(self) -> None:
        events = [{"time": 1, "type": "phase"}, {"time": 5, "type": "fault-start"},
                  {"time": 9, "type": "fault-end"}, {"time": 12, "type": "fault-start"}]

        assert (5, 9) == bench.fault_span(events)
        assert bench.fault_span(events[:2]) is None


def _outcome() -> RunOutcome:
    """A run as the runner leaves it: 1 s quiet, a fault over [1 s, 2 s), 1 s quiet."""
    record = Recorder()

    def op(process: int, start: float, end: float | None, kind: str = "ok") -> None:
        record.op(process=process, type="invoke", f="write", key="k0", value=process,
                  time=int(start * S), node="n1")
        if end is not None:
            record.op(process=process, type=kind, f="write", key="k0",  # type: ignore[arg-type]
                      value=process, time=int(end * S), node="n1")

    op(0, 0.1, 0.11)
    op(1, 1.2, 1.3)                # in the window, 100 ms
    op(2, 1.5, 1.9)                # in the window, 400 ms
    op(3, 1.6, 2.5)                # in the window, answered after it: 900 ms, not available
    op(4, 1.7, 2.0, kind="info")   # in the window, timed out
    op(5, 2.5, 2.51)
    events = [
        _role(0.05, "n1", 1), _role(0.05, "n2", 1), _role(0.05, "n3", 1),
        _leader(0.05, "n1", 1),
        {"time": 1 * S, "type": "fault-start"},
        _leader(1.4, None, None), _role(1.5, "n2", 2), _leader(1.6, "n2", 2),
        {"time": 2 * S, "type": "fault-end"},
        _role(2.7, "n3", 3), _leader(2.8, "n3", 3),
    ]
    results = {
        "verdict": "pass", "wall_s": 9.5,
        "checks": [{"name": "lost-writes", "valid": True, "measured": "0"}],
        "linearizability": {"valid": True},
        "stats": {"operations": 6},
        "availability": {"windows": [
            {"kind": "quiet", "sides": [{"answered": 1, "invoked": 1}]},
            {"kind": "fault", "sides": [{"answered": 2, "invoked": 4}]},
            {"kind": "quiet", "sides": [{"answered": 1, "invoked": 1}]},
        ]},
    }
    return RunOutcome(experiment="timing-latency-50ms", backend="local", seed=7, verdict="pass",
                      exit_code=0, dir=None, command="", results=results,
                      history=tuple(record.ops), events=tuple(events))


class TestFigures:
    def test_one_run(self) -> None:
        figures = bench.figures_of(_outcome())

        assert (2, 4, 2, 2) == (figures.window_answered, figures.window_invoked,
                                figures.quiet_answered, figures.quiet_invoked)
        assert (1, 1, 2, 2) == (figures.leader_changes_window, figures.term_changes_window,
                                figures.leader_changes_total, figures.term_changes_total)
        assert 0.2 == figures.leaderless_window_s
        assert [100.0, 400.0, 900.0] == [round(lat) for lat in figures.latencies_ms]
        assert (True, 0, 6, (1.0, 2.0)) == (figures.linearizable, figures.lost_writes,
                                            figures.operations, figures.window)

    def test_point_over_runs_pools_operations_and_latencies(self) -> None:
        one = bench.figures_of(_outcome())
        two = bench.figures_of(_outcome())
        two.linearizable = "unknown"
        row = bench.summarise_point(50, 25, [one, two])

        assert (0.5, 1.0, 8) == (row["window_yield"], row["quiet_yield"],
                                 row["window_invoked"])
        assert (2, 4, 2, 4) == (row["leader_changes_window"], row["leader_changes_total"],
                                row["term_changes_window"], row["term_changes_total"])
        assert (400.0, 900.0) == (round(row["p50_ms"]), round(row["p99_ms"]))
        assert "unknown" == row["linearizable"]
        assert 2 == len(row["per_run"])
        json.dumps(row)  # the document must serialise

    @pytest.mark.parametrize(("values", "combined"), [
        ([True, True], True), ([True, "unknown"], "unknown"), ([True, False, "unknown"], False),
        ([], "unknown"), ([None], "unknown"),
    ])
    def test_linearizable_over_runs(self, values: list[Any], combined: Any) -> None:
        assert combined == bench.combine_linearizable(values)

    def test_soak_counts_every_change_as_spurious(self) -> None:
        figures = bench.figures_of(_outcome(), bench.CpuUse(
            seconds=10, nodes={"n1": 0.5, "n2": 0.25}, proxy=0.1, runner=0.3))
        row = bench.summarise_soak(3, bench.Load(clients=16, rate=2000, keys=10), [figures])

        assert (2, 2, 2.0) == (row["leader_changes"], row["term_changes"], row["ops_per_s"])
        assert {"mean": 0.375, "max": 0.5} == row["cpu_per_node_cores"]


class TestCpu:
    def test_reads_a_live_process_and_not_a_missing_one(self) -> None:
        assert (bench.process_cpu_s(os.getpid()) or 0) > 0
        assert bench.process_cpu_s(2**22 + 12345) is None

    def test_meter_measures_the_workload_phase_only(self) -> None:
        pid = os.getpid()
        meter = bench.CpuMeter(lambda: {"n1": pid, "proxy": pid})
        meter(Progress(phase="workload", leader=None))  # no leader yet: not the start
        assert meter.result() is None
        meter(Progress(phase="workload", leader="n1"))
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:  # burn some CPU in this process
            sum(range(1000))
        meter(Progress(phase="workload", leader="n1"))
        meter(Progress(phase="drain", leader="n1"))  # after the workload: ignored
        use = meter.result()

        assert use is not None
        assert ["n1"] == list(use.nodes)
        assert 0.2 <= use.seconds < 1
        assert 0.3 < use.nodes["n1"] <= 1.5
        assert use.proxy is not None and use.proxy > 0.3

    def test_no_pids_no_figures(self) -> None:
        def broken() -> dict[str, int]:
            raise OSError("no cluster record")

        meter = bench.CpuMeter(broken)
        for _ in range(3):
            meter(Progress(phase="workload", leader="n1"))

        assert meter.result() is None


@pytest.mark.slow
@pytest.mark.timeout(120)
class TestShortRealRun:
    def test_one_point_and_a_short_soak(self, tmp_path: Path) -> None:
        """3 local nodes, 20 ± 10 ms for 2 s between 1 s quiet spells, then a 3 s soak."""
        out = tmp_path / "timing.json"
        result = CliRunner().invoke(main, [
            "bench", "timing", "--nodes", "3", "--latency", "20", "--window", "2",
            "--quiet", "1", "--soak", "3", "--runs-dir", str(tmp_path / "runs"),
            "--out", str(out), "--json"])

        assert 0 == result.exit_code, result.output
        doc = json.loads(out.read_text())
        (point,) = doc["latency"]
        soak = doc["soak"]
        run = point["per_run"][0]
        assert (20.0, 10.0, 1) == (point["latency_ms"], point["jitter_ms"], point["runs"])
        assert 0 <= point["window_yield"] <= 1 and 0 <= point["quiet_yield"] <= 1
        assert point["window_invoked"] > 0
        assert True is point["linearizable"] is soak["linearizable"]
        assert 0 == point["lost_writes"] == soak["lost_writes"]
        assert 0 <= point["leader_changes_window"] <= point["leader_changes_total"]
        assert 0 <= point["term_changes_window"] <= point["term_changes_total"]
        assert 0 < point["p50_ms"] <= point["p99_ms"]
        assert 1.9 <= run["window"][1] - run["window"][0] <= 2.5
        assert Path(run["dir"], "events.jsonl").exists()
        assert soak["operations"] > 0 and 0 <= soak["yield"] <= 1
        assert soak["leader_changes"] >= 0 and soak["term_changes"] >= 0
        cpu = soak["per_run"][0]["cpu"]
        assert ["n1", "n2", "n3"] == sorted(cpu["nodes"])
        assert all(0 < cores < 2 for cores in cpu["nodes"].values())
        assert doc["timing"]["tick_ms"] == DEFAULT_TICK_MS
