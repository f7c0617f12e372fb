"""``chaoslab report`` re-renders runs (exit 2 naming a bad one); ``chaoslab runs`` lists them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from experiments.cli import main


class TestReportCommand:
    def test_renders_report_and_junit(self, tiny_fail: Path) -> None:
        """Each RUN_DIR gets report.html and junit.xml; the report's path is printed."""
        result = CliRunner().invoke(main, ["report", str(tiny_fail)])

        assert (0, f"{tiny_fail / 'report.html'}\n") == (result.exit_code, result.stdout)
        assert (tiny_fail / "junit.xml").is_file()

    def test_bad_run_is_exit_2_naming_dir_and_file(self, tiny_fail: Path,
                                                   old_format: Path) -> None:
        """A run missing results.json is exit 2 naming it; the good runs are still rendered."""
        (tiny_fail / "results.json").unlink()

        result = CliRunner().invoke(main, ["report", str(tiny_fail), str(old_format)])

        assert 2 == result.exit_code
        assert f"{tiny_fail}: results.json: missing" in result.stderr
        assert (old_format / "report.html").is_file()

    def test_all_renders_every_run(self, data_runs: Path) -> None:
        """--all re-renders every run under --runs-dir."""
        result = CliRunner().invoke(main, ["report", "--all", "--runs-dir", str(data_runs)])

        assert 0 == result.exit_code
        assert 2 == len(list(data_runs.glob("*/*/report.html")))

    def test_nothing_to_do_is_a_usage_error(self) -> None:
        """No RUN_DIR and no --all is exit 2."""
        result = CliRunner().invoke(main, ["report"])

        assert 2 == result.exit_code


class TestRunsCommand:
    def test_json_lists_newest_first(self, data_runs: Path) -> None:
        """--json prints one object per run, newest first, with experiment/backend/seed/verdict."""
        result = CliRunner().invoke(main, ["runs", "--runs-dir", str(data_runs), "--json"])
        rows = [json.loads(line) for line in result.stdout.splitlines()]

        assert [("tiny-fail", "sim", 1, "fail", "2026-01-01T00:00:00Z"),
                ("old-format", "local", 3, "unknown", "2025-06-01T12:00:00Z")] == [
            (r["experiment"], r["backend"], r["seed"], r["verdict"], r["when"]) for r in rows]

    def test_broken_run_is_listed_with_its_problem(self, data_runs: Path) -> None:
        """A run whose results.json is unreadable is listed as broken, not hidden."""
        broken = data_runs / "tiny-fail" / "20260102T000000Z-sim-2"
        broken.mkdir()
        (broken / "results.json").write_text("{not json")

        result = CliRunner().invoke(main, ["runs", "--runs-dir", str(data_runs), "--json"])
        first = json.loads(result.stdout.splitlines()[0])

        assert ("broken", "2026-01-02T00:00:00Z", 2) == (first["verdict"], first["when"],
                                                         first["seed"])
        assert first["problem"].startswith("results.json: unreadable")

    def test_table_names_each_run(self, data_runs: Path) -> None:
        """Without --json, a table shows each run's experiment and verdict."""
        result = CliRunner().invoke(main, ["runs", "--runs-dir", str(data_runs)])

        assert 0 == result.exit_code
        assert "tiny-fail" in result.stdout
        assert "old-format" in result.stdout

    def test_latest_symlink_is_not_a_run(self, data_runs: Path) -> None:
        """The latest symlinks are skipped: each run is listed once."""
        (data_runs / "latest").symlink_to(data_runs / "tiny-fail" / "20260101T000000Z-sim-1")
        (data_runs / "tiny-fail" / "latest").symlink_to("20260101T000000Z-sim-1")

        result = CliRunner().invoke(main, ["runs", "--runs-dir", str(data_runs), "--json"])

        assert 2 == len(result.stdout.splitlines())

    def test_missing_runs_dir_is_exit_2(self, tmp_path: Path) -> None:
        """A runs directory that does not exist is a usage error naming it."""
        result = CliRunner().invoke(main, ["runs", "--runs-dir", str(tmp_path / "nope")])

        assert 2 == result.exit_code
        assert "nope" in result.output


class TestServeCommand:
    def test_serves_on_loopback_and_stops_by_itself(self, data_runs: Path) -> None:
        """``serve --port 0 --for S`` listens on 127.0.0.1, says where, and stops after S."""
        result = CliRunner().invoke(main, ["serve", "--runs-dir", str(data_runs), "--port", "0",
                                           "--for", "0.2"])

        assert 0 == result.exit_code
        assert result.stdout.startswith(f"serving {data_runs} on http://127.0.0.1:")


def test_commands_are_registered() -> None:
    """report, runs and serve are chaoslab commands, and report a bench."""
    top = CliRunner().invoke(main, ["--help"]).stdout
    bench = CliRunner().invoke(main, ["bench", "--help"]).stdout

    assert all(name in top for name in ("report", "runs", "serve"))
    assert "report" in bench


def test_bench_report_measures_each_size() -> None:
    """``bench report --json`` gives size and render time per history size."""
    result = CliRunner().invoke(main, ["bench", "report", "--ops", "200,400", "--repeat", "1",
                                       "--no-browser", "--json"])
    rows = json.loads(result.stdout)

    assert (0, 2) == (result.exit_code, len(rows))
    assert all(row["bytes"] > 0 and row["browser_load_ms"] is None for row in rows)
