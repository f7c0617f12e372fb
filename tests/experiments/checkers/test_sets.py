"""The set checker: lost, unexpected, duplicated and recovered elements."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from experiments.checkers import UNKNOWN, ModelError, check_set
from experiments.history import Op

Build = Callable[..., list[Op]]


class TestCheckSet:
    def test_all_acknowledged_present(self, build: Build) -> None:
        """Every acknowledged add in the final read: valid."""
        result = check_set(build((0, "add", 1, 0, 10, "ok"), (1, "add", 2, 0, 10, "ok"),
                                 (2, "read", [1, 2], 20, 30, "ok")))

        assert (True, 2, 1) == (result.valid, result.details["acknowledged"],
                                result.details["final_reads"])

    def test_lost_element(self, build: Build) -> None:
        """An acknowledged add missing from the final read is lost."""
        result = check_set(build((0, "add", 1, 0, 10, "ok"), (1, "add", 2, 0, 10, "ok"),
                                 (2, "read", [2], 20, 30, "ok")))

        assert (False, 1, [{"key": '"x"', "element": 1}]) == (
            result.valid, result.details["lost_count"], result.details["lost"])

    def test_unexpected_element(self, build: Build) -> None:
        """An element no one tried to add is unexpected."""
        result = check_set(build((0, "add", 1, 0, 10, "ok"), (2, "read", [1, 7], 20, 30, "ok")))

        assert (False, [7]) == (result.valid,
                                [e["element"] for e in result.details["unexpected"]])

    def test_failed_add_that_appears_is_unexpected(self, build: Build) -> None:
        """An element whose only add failed cannot be in the set."""
        result = check_set(build((0, "add", 1, 0, 10, "fail"), (2, "read", [1], 20, 30, "ok")))

        assert (False, 1) == (result.valid, result.details["unexpected_count"])

    def test_duplicate_element(self, build: Build) -> None:
        """An element present twice in one read is a duplicate."""
        result = check_set(build((0, "add", 1, 0, 10, "ok"), (2, "read", [1, 1], 20, 30, "ok")))

        assert (False, 1) == (result.valid, result.details["duplicated_count"])

    def test_recovered_info_add(self, build: Build) -> None:
        """An info add that shows up is recovered, which is fine."""
        result = check_set(build((0, "add", 1, 0, 10, "info"), (1, "add", 2, 0, 10, "ok"),
                                 (2, "read", [1, 2], 20, 30, "ok")))

        assert (True, 1) == (result.valid, result.details["recovered_count"])

    def test_info_add_missing_is_not_lost(self, build: Build) -> None:
        """An info add need not appear: it may never have happened."""
        result = check_set(build((0, "add", 1, 0, 10, "info"), (1, "add", 2, 0, 10, "ok"),
                                 (2, "read", [2], 20, 30, "ok")))

        assert (True, 0) == (result.valid, result.details["lost_count"])

    def test_concurrent_read_is_not_final(self, build: Build) -> None:
        """A read begun before the last acknowledged add completed does not count as final."""
        result = check_set(build((0, "add", 1, 0, 10, "ok"), (1, "read", [], 5, 8, "ok"),
                                 (2, "read", [1], 20, 30, "ok")))

        assert (True, 1) == (result.valid, result.details["final_reads"])

    def test_no_final_read_is_unknown(self, build: Build) -> None:
        """Without a read after the last acknowledged add, the verdict is unknown."""
        result = check_set(build((0, "add", 1, 0, 10, "ok"), (1, "read", [], 5, 8, "ok")))

        assert UNKNOWN == result.valid

    def test_keys_are_separate_sets(self, build: Build) -> None:
        """An element added to one key is lost when only another key's read has it."""
        result = check_set(build((0, "add", 1, 0, 10, "ok", "a"), (1, "read", [1], 20, 30, "ok",
                                                                    "b"),
                                 (1, "read", [], 40, 50, "ok", "a")))

        assert (False, 1, 1) == (result.valid, result.details["lost_count"],
                                 result.details["unexpected_count"])

    def test_read_value_must_be_a_list(self, build: Build) -> None:
        """A read whose value is not a list is bad input naming the value field."""
        with pytest.raises(ModelError) as caught:
            check_set(build((2, "read", 3, 20, 30, "ok")))

        assert "value" == caught.value.field

    def test_unknown_f_is_bad_input(self, build: Build) -> None:
        """Only add and read belong to a set history."""
        with pytest.raises(ModelError) as caught:
            check_set(build((2, "write", 3, 20, 30, "ok")))

        assert "f" == caught.value.field
