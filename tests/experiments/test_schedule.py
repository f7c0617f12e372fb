"""Fault schedules: Jepsen-style windows, composed faults, bad input."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.schedule import (
    SIMULATOR_KINDS,
    SIMULATOR_WEIGHTS,
    FaultSpec,
    NemesisKind,
    generate,
)

ALL = tuple(NemesisKind)


def _windows(
    schedule_faults: tuple[FaultSpec, ...],
) -> dict[tuple[float, float], list[NemesisKind]]:
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


class TestWeights:
    def test_no_weights_keeps_every_seeds_draws(self) -> None:
        """Without weights a seed's schedule is the one it always had (pinned here), so
        fixed-seed experiments and their recorded figures are undisturbed."""
        schedule = generate(
            random.Random("7:schedule"), SIMULATOR_KINDS, duration_s=30.0, recovery_s=8.0,
            compose=0.25,
        )

        assert [
            ("loss", 2.995, 5.407),
            ("latency", 10.131, 3.593),
            ("kill", 15.418, 2.368),
            ("partition-halves", 15.418, 2.368),
        ] == [(f.kind.value, f.at_s, f.duration_s) for f in schedule.faults]

    def test_kinds_are_drawn_in_proportion_to_their_weights(self) -> None:
        """A kind weighted 3 is drawn about three times as often as one weighted 1."""
        kinds = (NemesisKind.KILL, NemesisKind.PAUSE)

        schedule = generate(
            random.Random(11), kinds, duration_s=20_000.0, recovery_s=8.0, weights=(3.0, 1.0)
        )

        kills = sum(f.kind is NemesisKind.KILL for f in schedule.faults)
        pauses = sum(f.kind is NemesisKind.PAUSE for f in schedule.faults)
        assert 2.6 < kills / pauses < 3.4, f"{kills} kills, {pauses} pauses"

    def test_a_zero_weight_is_never_drawn_not_even_as_a_partner(self) -> None:
        """Weight 0 keeps a kind out of every window, first or composed."""
        kinds = (NemesisKind.RESTARTS, NemesisKind.LATENCY, NemesisKind.LOSS)

        schedule = generate(
            random.Random(12), kinds, duration_s=2_000.0, recovery_s=8.0, compose=1.0,
            weights=(1.0, 1.0, 0.0),
        )

        drawn = {f.kind for f in schedule.faults}
        assert {NemesisKind.RESTARTS, NemesisKind.LATENCY} == drawn

    def test_weights_draw_the_composed_partner_too(self) -> None:
        """A window's second fault is drawn by weight among the other categories."""
        kinds = (NemesisKind.RESTARTS, NemesisKind.LATENCY, NemesisKind.LOSS)

        schedule = generate(
            random.Random(13), kinds, duration_s=20_000.0, recovery_s=8.0, compose=1.0,
            weights=(1.0, 4.0, 1.0),
        )

        partners = [
            window[1] for window in _windows(schedule.faults).values()
            if window[0] is NemesisKind.RESTARTS
        ]
        latency = partners.count(NemesisKind.LATENCY)
        loss = partners.count(NemesisKind.LOSS)
        assert 3.4 < latency / loss < 4.6, f"{latency} latency, {loss} loss"

    @given(seed=st.integers(0, 2**32), compose=st.sampled_from([0.0, 0.5, 1.0]))
    @settings(max_examples=100, deadline=None)
    def test_weighted_windows_keep_the_schedule_rules(self, seed: int, compose: float) -> None:
        """With weights, windows are still disjoint, composed of two categories at most,
        and healed before the tail."""
        weights = tuple(SIMULATOR_WEIGHTS[k] for k in SIMULATOR_KINDS)

        schedule = generate(
            random.Random(seed), SIMULATOR_KINDS, duration_s=60.0, recovery_s=8.0,
            compose=compose, weights=weights,
        )

        windows = sorted(_windows(schedule.faults).items())
        for (_, end), kinds in windows:
            assert len({k.category for k in kinds}) == len(kinds) <= 2, f"seed {seed}: {kinds}"
            assert end <= 60.0 - 8.0 + 1e-9, f"seed {seed}"
        ends = [end for (_, end), _ in windows]
        starts = [start for (start, _), _ in windows]
        assert all(e <= s for e, s in zip(ends, starts[1:], strict=False)), f"seed {seed}"

    @pytest.mark.parametrize(
        ("weights", "named"),
        [
            ((1.0,), "expected one per kind \\(2\\), got 1"),
            ((1.0, -1.0), "pause"),
            ((float("nan"), 1.0), "kill"),
            ((1.0, float("inf")), "pause"),
            ((0.0, 0.0), "positive"),
        ],
    )
    def test_bad_weights_are_rejected_naming_the_problem(
        self, weights: tuple[float, ...], named: str
    ) -> None:
        """A weight missing, negative or not finite, or no kind drawable, is bad input that
        names the kind or the count."""
        kinds = (NemesisKind.KILL, NemesisKind.PAUSE)

        with pytest.raises(ValueError, match=f"weights: .*{named}"):
            generate(random.Random(1), kinds, duration_s=30.0, recovery_s=8.0, weights=weights)

    def test_default_mix_weighs_every_simulator_kind(self) -> None:
        """The default mix gives every simulator kind a positive weight, the aimed faults
        more than the plain ones."""
        assert set(SIMULATOR_KINDS) == set(SIMULATOR_WEIGHTS)
        assert all(w > 0 for w in SIMULATOR_WEIGHTS.values())
        plain = SIMULATOR_WEIGHTS[NemesisKind.PARTITION_MAJORITY]
        for aimed in (NemesisKind.RESTARTS, NemesisKind.PARTITION_LEADER_ROLLING):
            assert SIMULATOR_WEIGHTS[aimed] > plain
