"""Sample run directories for the report tests: generated once per session, seeded.

``samples`` holds a passing run (5 nodes, 10 clients, a leader partition, a
leader kill, a latency window), a failing one (a split brain whose history the
checker refutes, with a counterexample), and a 20,000-operation one. The
hand-written runs of tests/data/runs are copied, never rendered in place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from experiments.report.testing import SampleRuns, write_sample_runs

DATA_RUNS = Path(__file__).parents[2] / "data" / "runs"
TINY_FAIL = "tiny-fail/20260101T000000Z-sim-1"
OLD_FORMAT = "old-format/20250601T120000Z-local-3"


@pytest.fixture(name="samples", scope="session")
def fixture_samples(tmp_path_factory: pytest.TempPathFactory) -> SampleRuns:
    """The three generated sample runs, under one runs directory."""
    return write_sample_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(name="data_runs")
def fixture_data_runs(tmp_path: Path) -> Path:
    """A private copy of tests/data/runs (hand-written runs), safe to render into."""
    target = tmp_path / "runs"
    shutil.copytree(DATA_RUNS, target)
    return target


@pytest.fixture(name="tiny_fail")
def fixture_tiny_fail(data_runs: Path) -> Path:
    """A copy of the hand-written failing run: 4 operations, a search-found counterexample."""
    return data_runs / TINY_FAIL


@pytest.fixture(name="old_format")
def fixture_old_format(data_runs: Path) -> Path:
    """A copy of the hand-written old-style run: no events, no availability, verdict unknown."""
    return data_runs / OLD_FORMAT
