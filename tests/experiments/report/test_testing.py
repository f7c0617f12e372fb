"""The sample-run generator is deterministic and writes runs that keep the contract."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.history import format_history, read_history, validate_history
from experiments.report.testing import SampleRuns, passing_run, sample_history


def test_same_seed_same_history() -> None:
    """Two generations from one seed give the same history and events."""
    first, first_events = sample_history(passing_run(3))
    second, second_events = sample_history(passing_run(3))

    assert (format_history(first), first_events) == (format_history(second), second_events)


def test_passing_sample_keeps_the_contract(samples: SampleRuns) -> None:
    """The passing sample: 5 nodes, 10 clients, a partition and a kill; valid and linearizable."""
    history = read_history(samples.passing / "history.jsonl")
    validate_history(history)
    results = json.loads((samples.passing / "results.json").read_text())
    faults = [op.f for op in history if op.process == "nemesis" and op.type == "invoke"]

    assert (["partition-leader", "kill", "latency"], 5, 10, "pass") == (
        faults, results["cluster"]["nodes"], results["workload"]["clients"], results["verdict"])
    assert {"n1", "n2", "n3", "n4", "n5"} == {op.node for op in history if op.node}


def test_large_sample_size(samples: SampleRuns) -> None:
    """The large sample has about 20,000 client operations."""
    results = json.loads((samples.large / "results.json").read_text())

    assert 19_000 <= results["stats"]["operations"] <= 21_000


def test_events_are_time_ordered(samples: SampleRuns) -> None:
    """events.jsonl is in time order, on the history's clock."""
    times = [json.loads(line)["time"] for line in
             Path(samples.passing / "events.jsonl").read_text().splitlines()]

    assert sorted(times) == times
