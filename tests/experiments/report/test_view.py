"""What a report shows is computed from the run's files: faults, leaders, columns, buckets."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from experiments.history import client_operations
from experiments.report import build_view, load_run
from experiments.report.testing import SampleRuns
from experiments.report.view import nice_step


class TestHeader:
    def test_passing_run_header(self, samples: SampleRuns) -> None:
        """The header carries verdict, experiment, backend, seed, command and every check."""
        view = build_view(load_run(samples.passing))

        assert ("pass", "isolate-leader", "sim", 7) == (view.verdict, view.experiment,
                                                        view.backend, view.seed)
        assert view.command.endswith("--backend sim --seed 7")
        assert {"pass"} == {c.status for c in view.checks}
        assert 7 == len(view.checks)

    def test_unknown_check_is_grey(self, old_format: Path) -> None:
        """A check whose verdict is "unknown" gets the unknown status, and the run's verdict."""
        view = build_view(load_run(old_format))

        assert (["unknown", "pass"], "unknown") == ([c.status for c in view.checks],
                                                    view.verdict)

    def test_verdict_derived_when_absent(self, old_format: Path) -> None:
        """Without a verdict field, the worst check decides it."""
        run = load_run(old_format)
        results = {k: v for k, v in run.results.items() if k != "verdict"}
        checks = [{**c, "valid": False} if c["name"] == "lost-writes" else c
                  for c in results["checks"]]

        view = build_view(type(run)(run_dir=run.run_dir, experiment=None, history=run.history,
                                    events=run.events, results={**results, "checks": checks}))

        assert "fail" == view.verdict


class TestTimelineData:
    def test_columns_hold_every_client_operation(self, samples: SampleRuns) -> None:
        """One entry per client operation in every column; nemesis operations are not ops."""
        run = load_run(samples.passing)
        ops = build_view(run).payload["ops"]

        expected = len(client_operations(run.history))
        assert {expected} == {len(column) for column in ops.values()}

    def test_fault_windows_from_nemesis_ops(self, samples: SampleRuns) -> None:
        """Each nemesis invoke/info pair becomes a window with its id, kind and times."""
        faults = build_view(load_run(samples.passing)).payload["faults"]

        assert [(0, "partition-leader", 10_000_000, 20_000_000), (1, "kill", 30_000_000,
                                                                  35_000_000),
                (2, "latency", 40_000_000, 45_000_000)] == [
            (f["id"], f["fault"], f["start"], f["end"]) for f in faults]

    def test_fault_windows_from_events_without_nemesis_ops(self, tiny_fail: Path) -> None:
        """A history without nemesis ops still shows the windows of fault-start/end events."""
        run = load_run(tiny_fail)
        stripped = tuple(op for op in run.history if op.process != "nemesis")
        view = build_view(type(run)(run_dir=run.run_dir, experiment=run.experiment,
                                    history=stripped, events=run.events, results=run.results))

        assert [(0, "partition-leader", 115_000, 160_000)] == [
            (f["id"], f["fault"], f["start"], f["end"]) for f in view.payload["faults"]]

    def test_leader_lane_follows_leader_events(self, tiny_fail: Path) -> None:
        """Leader segments run from one leader event to the next: who led, in which term."""
        leaders = build_view(load_run(tiny_fail)).payload["leaders"]

        assert [[50_000, 115_000, "n1", 1], [115_000, 125_000, None, 1],
                [125_000, 200_000, "n2", 2]] == leaders

    def test_killed_node_has_a_down_interval(self, samples: SampleRuns) -> None:
        """A node-down / node-up pair gives a down interval with its reason."""
        payload = build_view(load_run(samples.passing)).payload
        down = [(node, s[0], s[1], s[2]) for node, spans in payload["down"].items()
                for s in spans]

        assert 1 == len(down)
        assert (30_000_000, 35_000_000, "killed") == down[0][1:]

    def test_pending_op_runs_to_the_end(self, old_format: Path) -> None:
        """An invoke without completion is pending (code 3) and ends at the end of the run."""
        payload = build_view(load_run(old_format)).payload
        ops = payload["ops"]
        pending = ops["type"].index(3)

        assert (payload["t_end"], -1) == (ops["end"][pending], ops["done"][pending])

    def test_throughput_counts_every_completion(self, samples: SampleRuns) -> None:
        """The throughput buckets add up to the number of completed operations."""
        run = load_run(samples.passing)
        payload = build_view(run).payload
        seconds = payload["bucket_us"] / 1e6
        counted = sum(round(r * seconds) for s in payload["throughput"] for r in s["rate"])

        assert sum(1 for o in client_operations(run.history) if o.completion) == counted

    def test_runs_without_events_have_empty_cluster_lanes(self, old_format: Path) -> None:
        """No events.jsonl: no leaders, roles, marks or phases, and no error."""
        payload = build_view(load_run(old_format)).payload

        assert ([], {}, [], []) == (payload["leaders"], payload["roles"], payload["marks"],
                                    payload["phases"])


class TestAvailability:
    def test_one_row_per_window_side(self, samples: SampleRuns) -> None:
        """The partition window has a majority and a minority row; the others one each."""
        view = build_view(load_run(samples.passing))

        assert ["all", "majority", "minority", "all", "all", "all", "all", "all"] == [
            r.side for r in view.availability]
        assert ["quiet", "majority", "minority"] == [r.side for r in view.totals]

    def test_no_availability_in_old_results(self, old_format: Path) -> None:
        """An older results.json without availability gives empty tables, not an error."""
        view = build_view(load_run(old_format))

        assert ([], []) == (view.availability, view.totals)


@given(span=st.floats(min_value=1e-3, max_value=1e6), target=st.integers(1, 500))
def test_nice_step_is_1_2_5_and_big_enough(span: float, target: int) -> None:
    """The bucket step is 1, 2 or 5 times a power of ten and cuts the span in <= target pieces."""
    step = nice_step(span, target)
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)

    assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6
    assert span / step <= target * (1 + 1e-9)
