"""Verdicts merge worst-first: False > "unknown" > True."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from experiments.checkers import UNKNOWN, CheckResult, Validity, compose, merge_valid

VALIDITIES = st.sampled_from([True, False, UNKNOWN])


class TestMergeValid:
    def test_empty_is_valid(self) -> None:
        """Nothing to merge is valid."""
        assert True is merge_valid([])

    def test_unknown_beats_true(self) -> None:
        """An unknown verdict makes the merge unknown."""
        assert UNKNOWN == merge_valid([True, UNKNOWN, True])

    def test_false_beats_unknown(self) -> None:
        """A false verdict makes the merge false, whatever else is there."""
        assert False is merge_valid([UNKNOWN, False, True])

    @given(st.lists(VALIDITIES, max_size=6))
    def test_order_does_not_matter(self, valids: list[Validity]) -> None:
        """Merging is insensitive to order."""
        assert merge_valid(valids) == merge_valid(list(reversed(valids)))


class TestCompose:
    def test_worst_result_wins_and_details_are_named(self) -> None:
        """Composed results keep each checker's JSON under its name."""
        good = CheckResult(valid=True, checker="a", summary="fine")
        bad = CheckResult(valid=False, checker="b", summary="broken", lines=("why",))

        result = compose({"a": good, "b": bad})

        assert (False, ("why",), "broken") == (result.valid, result.lines,
                                               result.details["b"]["summary"])
