"""Fault schedules: Jepsen-style windows, composed faults, bad input."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.schedule import NemesisKind, generate

ALL = tuple(NemesisKind)


def _windows(schedule_faults: tuple) -> dict[tuple[float, float], list[NemesisKind]]:
    windows: dict[tuple[float, float], list[NemesisKind]] = {}
    for fault in schedule_faults:
        windows.setdefault((fault.at_s, fault.end_s), []).append(fault.kind)
    return windows


class TestGenerate:
    @given(seed=st.integers(0, 2**32), compose=st.sampled_from([0.0, 0.3, 1.0]))
    @settings(max_examples=200, deadline=None)
    def test_windows_are_disjoint_and_heal_before_the_tail(self, seed: int, compose: float) -> None:
        """Windows never overlap one another; a composed window holds two faults of
        different categories; everything heals before the recovery tail."""
        schedule = generate(
            random.Random(seed), ALL, duration_s=60.0, recovery_s=8.0, compose=compose
        )

        windows = sorted(_windows(schedule.faults).items())
        for (start, end), kinds in windows:
            assert len(kinds) <= 2, f"seed {seed}: {kinds}"
            assert len({k.category for k in kinds}) == len(kinds), f"seed {seed}: {kinds}"
            assert end <= 60.0 - 8.0 + 1e-9
            assert start < end
        ends = [end for (_, end), _ in windows]
        starts = [start for (start, _), _ in windows]
        assert all(e <= s for e, s in zip(ends, starts[1:], strict=False)), f"seed {seed}"

    def test_compose_zero_keeps_single_faults(self) -> None:
        """Without composition every window holds exactly one fault."""
        schedule = generate(random.Random(3), ALL, duration_s=120.0, recovery_s=8.0)

        assert all(len(k) == 1 for k in _windows(schedule.faults).values())

    def test_compose_one_pairs_every_window_when_it_can(self) -> None:
        """With compose=1 and two categories to draw from, every window holds both."""
        kinds = (NemesisKind.RESTARTS, NemesisKind.LATENCY)

        schedule = generate(
            random.Random(4), kinds, duration_s=120.0, recovery_s=8.0, compose=1.0
        )

        windows = _windows(schedule.faults)
        assert windows
        assert all(sorted(k) == sorted(kinds) for k in windows.values())

    def test_compose_with_one_category_changes_nothing(self) -> None:
        """Faults of a single category are never composed (they would fight)."""
        kinds = (NemesisKind.LOSS, NemesisKind.LATENCY)

        schedule = generate(
            random.Random(5), kinds, duration_s=120.0, recovery_s=8.0, compose=1.0
        )

        assert all(len(k) == 1 for k in _windows(schedule.faults).values())

    @pytest.mark.parametrize("compose", [-0.1, 1.5])
    def test_compose_must_be_a_probability(self, compose: float) -> None:
        """A compose outside [0, 1] is bad input, named in the error."""
        with pytest.raises(ValueError, match="compose"):
            generate(random.Random(1), ALL, duration_s=30.0, recovery_s=8.0, compose=compose)

    def test_categories(self) -> None:
        """Each kind belongs to the category whose state it changes."""
        assert "partition" == NemesisKind.PARTITION_LEADER_ROLLING.category
        assert "link" == NemesisKind.LATENCY.category
        assert "process" == NemesisKind.RESTARTS.category
        assert "churn" == NemesisKind.LEADER_CHURN.category
