"""``chaoslab bench kv``: percentile math, merging, verdicts, report formatting, a tiny run."""

from __future__ import annotations

import json
import math
import shutil
import statistics
from io import StringIO

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from experiments.bench.kv import report
from experiments.bench.kv.command import parse_clients
from experiments.bench.kv.failover import FailoverResult, ProbeSettings, summarize_trials
from experiments.bench.kv.load import (
    IdleResult,
    LoadSpec,
    PointResult,
    ShardResult,
    combine,
    shard_workers,
    workload_name,
)
from experiments.bench.kv.profile import summarize
from experiments.bench.kv.stats import (
    EmptySample,
    LatencySummary,
    median,
    percentile,
    summarize_ns,
)
from experiments.bench.kv.target import TargetSpec
from experiments.cli import main

samples = st.lists(st.integers(0, 10**9), min_size=1, max_size=300)
quantiles = st.floats(min_value=0.01, max_value=100.0)


def _point(system: str, workload: str = "put", clients: int = 16, *, throughput: float,
           p99_ms: float, loader_cpu: float = 0.3, server_cpu: float = 0.9) -> PointResult:
    latency = LatencySummary(count=100, p50_ms=p99_ms / 4, p99_ms=p99_ms, max_ms=p99_ms * 2)
    return PointResult(system=system, workload=workload, clients=clients,
                       ok=int(throughput * 10), errors=0, window_s=10.0, throughput=throughput,
                       latency=latency, loader_cpu=loader_cpu, loader_procs=1,
                       server_cpu=server_cpu,
                       first_error=None)


class TestPercentile:
    @settings(max_examples=200, deadline=None)
    @given(values=samples, q=quantiles)
    def test_nearest_rank_definition(self, values: list[int], q: float) -> None:
        """The answer is a sample value with at least q% of values at or below it, fewer below."""
        ordered = sorted(values)
        rank = math.ceil(q / 100 * len(ordered))
        answer = percentile(ordered, q)

        assert answer in ordered
        assert sum(v <= answer for v in ordered) >= rank
        assert sum(v < answer for v in ordered) < rank

    def test_hundred_values(self) -> None:
        """Of 1..100, p50 is 50, p99 is 99 and p100 is 100."""
        ordered = list(range(1, 101))

        assert [50, 99, 100] == [percentile(ordered, q) for q in (50, 99, 100)]

    def test_p99_of_few_values_is_the_max(self) -> None:
        """With fewer than 100 values the p99 is the slowest one."""

        assert 7 == percentile([1, 2, 7], 99)

    def test_empty_sample_is_an_error(self) -> None:
        """No values: EmptySample, naming the percentile asked for."""
        with pytest.raises(EmptySample, match="percentile 99"):
            percentile([], 99)

    @pytest.mark.parametrize("q", [0, -1, 100.5])
    def test_quantile_out_of_range(self, q: float) -> None:
        """A percentile outside (0, 100] is refused."""
        with pytest.raises(ValueError, match="must be in"):
            percentile([1, 2], q)


class TestMedian:
    @settings(max_examples=100, deadline=None)
    @given(values=samples)
    def test_agrees_with_the_standard_library(self, values: list[int]) -> None:
        """Same answer as statistics.median, whatever the order of the values."""

        assert statistics.median(values) == median(values)

    def test_empty(self) -> None:
        """No values: EmptySample."""
        with pytest.raises(EmptySample):
            median([])


class TestSummarizeNs:
    def test_milliseconds(self) -> None:
        """Nanosecond latencies come back as millisecond percentiles and max."""
        summary = summarize_ns([3_000_000, 1_000_000, 2_000_000, 10_000_000])

        assert LatencySummary(count=4, p50_ms=2.0, p99_ms=10.0, max_ms=10.0) == summary

    def test_nothing_measured(self) -> None:
        """No latencies give no summary (not zeros)."""

        assert None is summarize_ns([])


class TestShardWorkers:
    @settings(max_examples=100, deadline=None)
    @given(clients=st.integers(1, 200), procs=st.integers(1, 8))
    def test_every_worker_once_and_balanced(self, clients: int, procs: int) -> None:
        """Each worker lands in exactly one non-empty shard; shard sizes differ by at most one."""
        shards = shard_workers(clients, procs)
        sizes = [len(s) for s in shards]

        assert list(range(clients)) == sorted(w for s in shards for w in s)
        assert min(sizes) >= 1
        assert max(sizes) - min(sizes) <= 1
        assert min(procs, clients) == len(shards)


class TestCombine:
    def test_merges_processes(self) -> None:
        """Throughput is all successes over the window; latencies and CPU add up."""
        spec = LoadSpec(target=TargetSpec(system="etcd", addresses=("a", "b", "c")), op="get",
                        mode="local", clients=4, duration_s=2.0)
        shards = [
            ShardResult(ok=3, errors=1, latencies_ns=(1_000_000, 2_000_000, 3_000_000),
                        cpu_s=1.0, wall_s=4.0, first_error="etcd get: UNAVAILABLE: x"),
            ShardResult(ok=1, errors=0, latencies_ns=(9_000_000,), cpu_s=2.0, wall_s=4.0,
                        first_error=None),
        ]
        point = combine(spec, shards, server_cpu=1.5)

        assert ("etcd", "get-local", 4, 4, 1) == (point.system, point.workload, point.clients,
                                                   point.ok, point.errors)
        assert 2.0 == point.throughput
        assert LatencySummary(count=4, p50_ms=2.0, p99_ms=9.0, max_ms=9.0) == point.latency
        assert 0.75 == point.loader_cpu
        assert "etcd get: UNAVAILABLE: x" == point.first_error

    @pytest.mark.parametrize(("op", "mode", "name"), [
        ("put", "linearizable", "put"), ("put", "local", "put"),
        ("get", "linearizable", "get"), ("get", "local", "get-local")])
    def test_workload_names(self, op: str, mode: str, name: str) -> None:
        """Reads are named by consistency; a put is a put."""

        assert name == workload_name(op, mode)  # type: ignore[arg-type]


class TestFailoverSummary:
    def test_failed_trials_are_counted_not_averaged(self) -> None:
        """Trials that never recovered are failures; median and max cover the others."""
        result = summarize_trials("chaoslab", (300.0, None, 500.0, 400.0))

        assert FailoverResult(system="chaoslab", trials_ms=(300.0, None, 500.0, 400.0),
                              median_ms=400.0, max_ms=500.0, failed=1) == result

    def test_no_trial_recovered(self) -> None:
        """All failed: no median, no max."""
        result = summarize_trials("etcd", (None, None))

        assert (None, None, 2) == (result.median_ms, result.max_ms, result.failed)

    def test_probe_slots_cover_the_attempt_deadline(self) -> None:
        """Enough slots that a new put can start every interval while older ones hang."""

        assert 102 == ProbeSettings(interval_s=0.01, attempt_timeout_s=1.0).slots


class TestVerdicts:
    def test_ratios_against_etcd(self) -> None:
        """Throughput needs half of etcd's; p99 at most twice etcd's."""
        points = [_point("etcd", throughput=1000, p99_ms=10),
                  _point("chaoslab", throughput=499, p99_ms=20)]
        found = {v.check: v.met for v in report.verdicts(points, [])}

        assert {"put x16 throughput (ops/s)": False, "put x16 p99 (ms)": True,
                "put x16 server CPU per put (ms)": False} == found

    def test_cpu_per_put(self) -> None:
        """Server CPU in cores over ops/s is CPU per operation; 0.5 ms is the limit."""
        cheap = _point("chaoslab", throughput=2000, p99_ms=5, server_cpu=0.9)
        dear = _point("chaoslab", throughput=1000, p99_ms=5, server_cpu=0.9)
        points = [_point("etcd", throughput=4000, p99_ms=5, server_cpu=0.8), cheap]

        assert 0.45 == pytest.approx(report.cpu_per_op_ms(cheap))
        assert 0.9 == pytest.approx(report.cpu_per_op_ms(dear))
        assert report.cpu_per_op_ms(_point("etcd", throughput=0, p99_ms=5)) is None
        found = {v.check: (v.chaoslab, v.etcd, v.met) for v in report.verdicts(points, [])}
        assert (pytest.approx(0.45), pytest.approx(0.2), True) == \
            found["put x16 server CPU per put (ms)"]

    def test_get_points_have_no_cpu_per_put_verdict(self) -> None:
        """The CPU target is about puts."""
        points = [_point("etcd", "get", throughput=1000, p99_ms=10),
                  _point("chaoslab", "get", throughput=900, p99_ms=10)]

        assert not any("CPU" in v.check for v in report.verdicts(points, []))

    def test_idle_cpu(self) -> None:
        """An idle chaoslab node may use 0.02 of a core; etcd's figure is shown beside."""
        idles = [IdleResult(system="etcd", window_s=10, nodes=3, cores_per_node=0.012),
                 IdleResult(system="chaoslab", window_s=10, nodes=3, cores_per_node=0.025)]
        found = [(v.check, v.chaoslab, v.etcd, v.met) for v in report.verdicts([], [], idles)]

        assert [("idle CPU per node (cores)", 0.025, 0.012, False)] == found

    def test_unpaired_points_give_no_verdict(self) -> None:
        """A point measured for one system only is not compared."""
        points = [_point("etcd", clients=1, throughput=1000, p99_ms=10),
                  _point("chaoslab", clients=64, throughput=10, p99_ms=99)]

        assert [] == report.verdicts(points, [])

    def test_failover_limits(self) -> None:
        """At or below etcd's median and max in the same run, and never above 430 / 800 ms."""
        ours = summarize_trials("chaoslab", (300.0, 320.0, 900.0))
        theirs = summarize_trials("etcd", (350.0, 360.0))
        found = [(v.check, v.chaoslab, v.etcd, v.met)
                 for v in report.verdicts([], [ours, theirs])]

        assert [("failover median (ms)", 320.0, 355.0, True),
                ("failover max (ms)", 900.0, 360.0, False)] == found

    def test_failover_above_etcd_fails_even_under_the_limits(self) -> None:
        """Slower than etcd fails; without etcd, the fixed limits alone decide."""
        ours = summarize_trials("chaoslab", (400.0, 420.0))
        theirs = summarize_trials("etcd", (300.0, 310.0))

        assert [False, False] == [v.met for v in report.verdicts([], [ours, theirs])]
        assert [True, True] == [v.met for v in report.verdicts([], [ours])]

    def test_a_failed_trial_fails_the_target(self) -> None:
        """A trial that never recovered fails the failover targets even if the rest are fast."""
        ours = summarize_trials("chaoslab", (100.0, None))

        assert [False, False] == [v.met for v in report.verdicts([], [ours])]


class TestReport:
    def test_document_is_json(self) -> None:
        """The document round-trips through JSON and flags a busy load generator."""
        points = [_point("etcd", throughput=1000, p99_ms=10, loader_cpu=0.95),
                  _point("chaoslab", throughput=800, p99_ms=12, server_cpu=0.3)]
        doc = report.document(settings={"duration_s": 10}, points=points,
                              failovers=[summarize_trials("etcd", (300.0,))])
        again = json.loads(json.dumps(doc))

        assert ["etcd put x16"] == again["loader_busy"]
        assert [1000, 800] == [p["throughput"] for p in again["points"]]
        assert 300.0 == again["failover"][0]["median_ms"]
        assert [True, True, True] == [v["met"] for v in again["verdicts"]]
        assert 0.375 == pytest.approx(again["points"][1]["server_cpu_per_op_ms"])


class TestProfileSummary:
    RAW = "\n".join([
        "<module> (x.py:1);run (asyncio/base_events.py:600);step (nodes/raft/core.py:10) 30",
        "<module> (x.py:1);run (asyncio/base_events.py:600);fsync (nodes/storage/wal.py:9) 50",
        "<module> (x.py:1);_read (grpc/aio/_call.py:5) 20",
        "not a stack line",
    ])

    def test_self_and_layer_shares(self) -> None:
        """Innermost frames by share (line numbers dropped), and each layer's inclusive share."""
        found = summarize(self.RAW, raw="r.txt")

        assert 100 == found.samples
        assert [("fsync (storage/wal.py)", 0.5), ("step (raft/core.py)", 0.3),
                ("_read (aio/_call.py)", 0.2)] == found.top_self
        layers = dict(found.layers)
        assert (0.3, 0.5, 0.8, 0.2) == (layers["raft core"], layers["storage"],
                                        layers["asyncio"], layers["grpc"])
        assert "r.txt" == found.raw

    def test_nothing_sampled(self) -> None:
        """An empty profile is zero samples, not a division by zero."""
        assert 0 == summarize("").samples

    def test_tables_show_the_figures(self) -> None:
        """Points, failover trials and verdicts appear in the rendered tables."""
        points = [_point("etcd", throughput=1234, p99_ms=10.5),
                  _point("chaoslab", throughput=617, p99_ms=21)]
        failovers = [summarize_trials("chaoslab", (310.0, None))]
        out = StringIO()
        console = Console(file=out, width=200)
        console.print(report.points_table(points, title="t"))
        console.print(report.failover_table(failovers))
        console.print(report.verdict_table(report.verdicts(points, failovers)))
        text = out.getvalue()

        assert "1,234" in text
        assert "10.50" in text
        assert "310 timeout" in text
        assert "NO" in text


class TestCommand:
    def test_parse_clients(self) -> None:
        """A comma-separated list of positive counts."""

        assert (1, 16, 64) == parse_clients("1, 16,64")

    @pytest.mark.parametrize("text", ["", "0", "a,2", "4,-1"])
    def test_parse_clients_rejects(self, text: str) -> None:
        """Empty, zero, negative or non-numeric counts are refused."""
        with pytest.raises(click.BadParameter):
            parse_clients(text)

    def test_bad_clients_exit_2(self) -> None:
        """Bad input exits 2 naming the option."""
        result = CliRunner().invoke(main, ["bench", "kv", "--clients", "x"])

        assert 2 == result.exit_code
        assert "--clients" in result.output

    def test_missing_etcd_says_how_to_install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without etcd (and no install) the command fails and names the apt-get command."""
        monkeypatch.setenv("PATH", "/nonexistent")
        result = CliRunner().invoke(main, ["bench", "kv", "--target", "etcd",
                                           "--no-install-etcd"])

        assert 1 == result.exit_code
        assert "apt-get install -y etcd-server" in result.output


NO_ETCD = pytest.mark.skipif(shutil.which("etcd") is None,
                             reason="etcd is not installed (apt-get install -y etcd-server)")


@pytest.mark.slow
class TestTinyRun:
    @pytest.mark.parametrize("target", [pytest.param("etcd", marks=NO_ETCD), "chaoslab"])
    def test_one_second_run(self, target: str) -> None:
        """A 1 s run against a real local 3-member cluster measures every point and a failover."""
        result = CliRunner().invoke(main, [
            "bench", "kv", "--target", target, "--duration", "1", "--warmup", "0.2",
            "--clients", "4", "--read-clients", "4", "--trials", "1", "--json"])
        doc = json.loads(result.output.splitlines()[-1])

        assert 0 == result.exit_code
        assert [("put", 4), ("get", 4), ("get-local", 4)] == [
            (p["workload"], p["clients"]) for p in doc["points"]]
        assert all(p["ok"] > 0 and p["errors"] == 0 for p in doc["points"])
        assert [target] == [f["system"] for f in doc["failover"]]
        assert 1 == len(doc["failover"][0]["trials_ms"])
