"""The regression seeds file: plain text, append-only, one test id and seed per line."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.pytest_plugin import regressions
from experiments.pytest_plugin.regressions import RegressionFileError, base_id, parse, read, record


class TestParse:
    """Lines are ``TEST-ID SEED  # note``; comments and blank lines are skipped."""

    def test_seeds_per_test_in_file_order(self) -> None:
        """Seeds keep their order, repeats are dropped, notes ignored."""
        text = "# header\n\nt.py::test_a 7  # linearizable\nt.py::test_b 2\nt.py::test_a 3\n" \
               "t.py::test_a 7\n"

        assert {"t.py::test_a": (7, 3), "t.py::test_b": (2,)} == parse(text).seeds

    def test_a_test_id_with_spaces(self) -> None:
        """The seed is the last number on the line."""
        assert (4,) == parse("t.py::test_x[a b] 4\n").for_test("t.py::test_x[a b]")

    def test_a_bad_line_names_file_and_line(self) -> None:
        """A line without a seed is an error with its position."""
        with pytest.raises(RegressionFileError) as raised:
            parse("t.py::test_a 1\nt.py::test_b seven\n", source="seeds.txt")

        assert str(raised.value).startswith("seeds.txt:2: expected `TEST-ID SEED")

    def test_parameters_are_not_part_of_the_id(self) -> None:
        """A test's seeds are recorded under its id without parameters."""
        assert "t.py::test_x" == base_id("t.py::test_x[seed-3]")


class TestRecord:
    """Recording appends one whole line, once."""

    def test_first_record_writes_the_header(self, tmp_path: Path) -> None:
        """A new file starts with the explanation, then the line."""
        path = tmp_path / "seeds.txt"

        added = record(path, "t.py::test_a", 5, "bug: linearizable")

        assert added
        assert regressions.HEADER + "t.py::test_a 5  # bug: linearizable\n" == path.read_text()

    def test_a_seed_is_recorded_once(self, tmp_path: Path) -> None:
        """Recording the same seed again changes nothing."""
        path = tmp_path / "seeds.txt"
        record(path, "t.py::test_a", 5)
        before = path.read_text()

        added = record(path, "t.py::test_a", 5)

        assert (False, before) == (added, path.read_text())

    def test_existing_lines_are_kept(self, tmp_path: Path) -> None:
        """Hand-written lines survive; new seeds follow them."""
        path = tmp_path / "seeds.txt"
        path.write_text("# mine\nt.py::test_a 1\n")

        record(path, "t.py::test_a", 9)

        assert (1, 9) == read(path).for_test("t.py::test_a")

    def test_a_missing_file_has_no_seeds(self, tmp_path: Path) -> None:
        """No file, no seeds (and nothing is created by reading)."""
        assert ({}, False) == (read(tmp_path / "none.txt").seeds,
                               (tmp_path / "none.txt").exists())
