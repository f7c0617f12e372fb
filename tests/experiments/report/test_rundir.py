"""Reading a run directory: required files must be there and well formed; optional ones may not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from experiments.report import RunDirError, load_run


class TestLoadRun:
    def test_reads_every_file(self, tiny_fail: Path) -> None:
        """A complete run gives its experiment, history, events and results."""
        run = load_run(tiny_fail)

        assert ("tiny-fail", 10, 12, "fail") == (
            run.experiment["name"] if run.experiment else None, len(run.history),
            len(run.events), run.results["verdict"])

    def test_optional_files_may_be_missing(self, old_format: Path) -> None:
        """Without experiment.yaml and events.jsonl the run still loads, with none of either."""
        run = load_run(old_format)

        assert (None, ()) == (run.experiment, run.events)

    @pytest.mark.parametrize("name", ["results.json", "history.jsonl"])
    def test_missing_required_file_names_it(self, tiny_fail: Path, name: str) -> None:
        """A missing required file is a RunDirError naming the directory and the file."""
        run_dir = tiny_fail
        (run_dir / name).unlink()

        with pytest.raises(RunDirError) as caught:
            load_run(run_dir)

        assert (run_dir, name, "missing") == (caught.value.run_dir, caught.value.file,
                                              caught.value.problem)
        assert str(run_dir) in str(caught.value)

    def test_bad_history_line_names_line_and_field(self, tiny_fail: Path) -> None:
        """A history line breaking the format is reported with its line and field."""
        run_dir = tiny_fail
        lines = (run_dir / "history.jsonl").read_text().splitlines()
        lines[2] = lines[2].replace('"time": 110000000', '"time": "soon"')
        (run_dir / "history.jsonl").write_text("\n".join(lines) + "\n")

        with pytest.raises(RunDirError) as caught:
            load_run(run_dir)

        assert "history.jsonl" == caught.value.file
        assert caught.value.problem.startswith("line 3: field 'time'")

    def test_bad_event_line_names_line(self, tiny_fail: Path) -> None:
        """An events.jsonl line that is not an object with integer time is named by line."""
        run_dir = tiny_fail
        with (run_dir / "events.jsonl").open("a") as out:
            out.write('{"type": "phase", "time": -1}\n')

        with pytest.raises(RunDirError) as caught:
            load_run(run_dir)

        assert ("events.jsonl", True) == (caught.value.file,
                                          caught.value.problem.startswith("line 13: field 'time'"))

    def test_results_must_be_an_object(self, tiny_fail: Path) -> None:
        """results.json holding a list is rejected, saying what was expected."""
        run_dir = tiny_fail
        (run_dir / "results.json").write_text(json.dumps([1, 2]))

        with pytest.raises(RunDirError) as caught:
            load_run(run_dir)

        assert "expected a JSON object, got list" == caught.value.problem

    def test_not_a_directory(self, tmp_path: Path) -> None:
        """A path that is not a directory is refused as such."""
        with pytest.raises(RunDirError) as caught:
            load_run(tmp_path / "nowhere")

        assert "not a directory" == caught.value.problem

    def test_unknown_event_types_are_kept(self, tiny_fail: Path) -> None:
        """Events of types this version does not know are kept, not rejected."""
        run_dir = tiny_fail
        with (run_dir / "events.jsonl").open("a") as out:
            out.write('{"type": "future-thing", "time": 5}\n')

        run = load_run(run_dir)

        assert "future-thing" == run.events[-1]["type"]


def test_data_runs_are_untouched_by_copies(tiny_fail: Path) -> None:
    """The fixture copies tests/data/runs, so tests may render into the copy."""
    shutil.rmtree(tiny_fail)
    original = Path(__file__).parents[2] / "data" / "runs" / tiny_fail.relative_to(
        tiny_fail.parents[1])

    assert (original / "results.json").exists()
