"""A well-formed run directory always renders, however little it holds; seeds are printed."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.bench.checker import RegisterWorkload, simulate_register
from experiments.history import write_history
from experiments.report import render_run, write_junit


def _run_dir(root: Path, history_seed: int, ops: int, results: dict[str, object]) -> Path:
    run_dir = root / "any" / f"20260101T000000Z-sim-{history_seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    history = simulate_register(random.Random(history_seed), RegisterWorkload(
        ops=ops, processes=4, keys=2, nemesis_every=7)) if ops else []
    write_history(run_dir / "history.jsonl", history)
    (run_dir / "results.json").write_text(json.dumps(results))
    return run_dir


@pytest.mark.parametrize("results", [
    {},
    {"checks": []},
    {"checks": [{"name": "x"}], "availability": {"windows": [{}], "totals": {"quiet": {}}}},
    {"checks": [{"valid": "maybe"}], "availability": [], "latency": None, "stats": "no"},
    {"linearizability": {"valid": False, "counterexample": {"prefix_tail": "nope"}}},
    {"linearizability": {"valid": False, "counterexample": {
        "failing": [{"f": "read", "process": 1}], "prefix_length": "x"}}},
])
def test_sparse_results_render(tmp_path: Path, results: dict[str, object]) -> None:
    """results.json with missing or odd fields still gives a report and a junit.xml."""
    run_dir = _run_dir(tmp_path, 1, 30, results)

    assert (render_run(run_dir).is_file(), write_junit(run_dir).is_file()) == (True, True)


def test_empty_history_renders(tmp_path: Path) -> None:
    """A run with no operation at all renders."""
    run_dir = _run_dir(tmp_path, 2, 0, {"checks": []})

    assert render_run(run_dir).stat().st_size > 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ops=st.integers(0, 60))
def test_any_register_history_renders(tmp_path_factory: pytest.TempPathFactory, seed: int,
                                      ops: int) -> None:
    """Histories of a simulated register with nemesis ops, any size, render (seed printed)."""
    print(f"seed={seed} ops={ops}")  # noqa: T201 - reproduce a failure
    run_dir = _run_dir(tmp_path_factory.mktemp("any"), seed, ops, {"checks": []})

    assert render_run(run_dir).is_file()
