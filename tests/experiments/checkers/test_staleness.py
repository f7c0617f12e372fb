"""PBS staleness: how many committed versions, and how long, a read was behind."""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import given, note, settings
from hypothesis import strategies as st

from experiments.bench.checker import RegisterWorkload, simulate_register
from experiments.checkers import check_staleness
from experiments.checkers.staleness import percentile, read_staleness
from experiments.history import Op

Build = Callable[..., list[Op]]
MS = 1_000_000


def behind(history: list[Op]) -> list[tuple[int, int, float]]:
    """(read index, versions behind, ms behind) of each read."""
    return [(r.index, r.versions, r.ms) for r in read_staleness(history)[0]]


class TestReads:
    def test_fresh_reads_are_not_behind(self, build: Build) -> None:
        """A read of the latest committed value is 0 versions and 0 ms behind."""
        history = build((0, "write", 1, 0, 10 * MS, "ok"), (1, "read", 1, 20 * MS, 30 * MS, "ok"))

        assert [(2, 0, 0.0)] == behind(history)

    def test_read_missing_one_version(self, build: Build) -> None:
        """A read of 1 after 2 was committed is one version and 10 ms behind."""
        history = build((0, "write", 1, 0, 10 * MS, "ok"), (0, "write", 2, 20 * MS, 30 * MS, "ok"),
                        (1, "read", 1, 40 * MS, 50 * MS, "ok"))

        assert [(4, 1, 10.0)] == behind(history)

    def test_null_after_two_writes(self, build: Build) -> None:
        """The initial null read after two commits is two versions behind, timed from the first."""
        history = build((0, "write", 1, 0, 10 * MS, "ok"), (0, "write", 2, 20 * MS, 30 * MS, "ok"),
                        (1, "read", None, 40 * MS, 50 * MS, "ok"))

        assert [(4, 2, 30.0)] == behind(history)

    def test_concurrent_writes_are_not_staleness(self, build: Build) -> None:
        """A write that began before the value read was in place may be ordered before it."""
        history = build((0, "write", 1, 0, 100 * MS, "ok"), (1, "write", 2, 5 * MS, 20 * MS, "ok"),
                        (2, "read", 1, 150 * MS, 160 * MS, "ok"))

        assert [(4, 0, 0.0)] == behind(history)

    def test_uncommitted_writes_do_not_count(self, build: Build) -> None:
        """A write still in flight when the read began is not a version the read missed."""
        history = build((0, "write", 1, 0, 10 * MS, "ok"), (0, "write", 2, 20 * MS, 60 * MS, "ok"),
                        (1, "read", 1, 40 * MS, 50 * MS, "ok"))

        assert [(3, 0, 0.0)] == behind(history)

    def test_info_write_in_place_once_observed(self, build: Build) -> None:
        """A value from an info write counts as in place once its first observer completed."""
        history = build((0, "write", 1, 0, 5 * MS, "info"), (1, "read", 1, 10 * MS, 20 * MS, "ok"),
                        (2, "write", 2, 30 * MS, 40 * MS, "ok"),
                        (3, "read", 1, 50 * MS, 60 * MS, "ok"))

        assert [(2, 0, 0.0), (6, 1, 10.0)] == behind(history)


class TestFigures:
    def test_distribution_and_stale_rate(self, build: Build) -> None:
        """The result gives the stale rate, p50/p99/max, and names the stale reads."""
        history = build((0, "write", 1, 0, 10 * MS, "ok"), (0, "write", 2, 20 * MS, 30 * MS, "ok"),
                        (1, "read", 1, 40 * MS, 50 * MS, "ok"),
                        (2, "read", 2, 40 * MS, 50 * MS, "ok"))

        result = check_staleness(history)

        assert (False, 0.5, [4]) == (result.valid, result.details["stale_rate"],
                                     result.details["ops"])
        assert {"p50": 0, "p99": 1, "max": 1} == result.details["versions_behind"]
        assert True is check_staleness(history, max_versions=1).valid

    def test_nearest_rank(self) -> None:
        """Percentiles are values some read had (nearest rank)."""
        assert (2, 4, 4) == (percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 99),
                             percentile([1, 2, 3, 4], 100))

    @settings(max_examples=30, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def test_linearizable_histories_have_no_stale_read(self, seed: int) -> None:
        """Histories of an atomic register (linearizable) never count a read as stale."""
        note(f"seed {seed}")
        history = simulate_register(random.Random(seed), RegisterWorkload(
            ops=300, processes=random.Random(seed).randint(1, 20), keys=2, unique=True))

        assert 0 == check_staleness(history).details["stale_reads"]
