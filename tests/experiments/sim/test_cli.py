"""``chaoslab sim``: seeds, nemeses, exit codes and the reproduce line."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.schedule import NemesisKind
from experiments.sim.cli import parse_nemeses, parse_seeds, reproduce_command
from experiments.sim.run import SimSpec


class TestParsing:
    def test_seed_range_is_inclusive(self) -> None:
        """``3..5`` means seeds 3, 4 and 5; a single number is one seed."""
        assert [3, 4, 5] == parse_seeds("3..5")
        assert [9] == parse_seeds("9")

    @pytest.mark.parametrize("text", ["", "a..b", "5..3", "1-3"])
    def test_bad_seed_ranges_are_rejected(self, text: str) -> None:
        """Anything but N or A..B with A <= B is a usage error."""
        with pytest.raises(click.BadParameter):
            parse_seeds(text)

    def test_nemeses_by_name(self) -> None:
        """Comma-separated and repeated names combine; ``none`` means no faults."""
        assert (NemesisKind.KILL, NemesisKind.LOSS) == parse_nemeses(("kill,loss",), None)
        assert () == parse_nemeses(("none",), None)

    def test_unknown_nemesis_names_the_bad_word(self) -> None:
        """An unknown nemesis is rejected with its name and the known ones."""
        with pytest.raises(click.BadParameter, match=r"'flood'.*partition-majority"):
            parse_nemeses(("kill,flood",), None)

    def test_reproduce_command_names_everything_needed(self) -> None:
        """The reproduce line pins seed, size, duration, nemeses and bug."""
        spec = SimSpec(nodes=3, duration_s=20, nemeses=(NemesisKind.KILL,), bug="no-session-dedupe")

        line = reproduce_command(spec, 12)

        assert (
            "chaoslab sim --seeds 12 --nodes 3 --duration 20 --recovery 8 --nemesis kill "
            "--compose 0.25 "
            "--bug no-session-dedupe" == line
        )


class TestCommand:
    def test_list_bugs(self) -> None:
        """``--list-bugs`` lists every seeded bug and exits 0."""
        result = CliRunner().invoke(main, ["sim", "--list-bugs"])

        assert 0 == result.exit_code, result.output
        assert "votes-not-persisted" in result.output
        assert "no-session-dedupe" in result.output

    def test_passing_seed_exits_0(self, tmp_path: Path) -> None:
        """A correct node under faults passes: exit 0, nothing saved."""
        result = CliRunner().invoke(
            main, ["sim", "--seeds", "1", "--duration", "12", "--out", str(tmp_path), "--json"]
        )

        assert 0 == result.exit_code, result.output
        line = json.loads(result.stdout.strip().splitlines()[-1])
        assert line["ok"] is True
        assert [] == list(tmp_path.iterdir())

    def test_failing_seed_exits_1_with_history_and_reproduce_line(self, tmp_path: Path) -> None:
        """A seeded bug that is caught: exit 1, the history saved, a reproduce line printed."""
        result = CliRunner().invoke(
            main,
            ["sim", "--seeds", "1", "--duration", "20", "--bug",
             "leader-reads-without-readindex", "--out", str(tmp_path), "--jobs", "1"],
        )

        assert 1 == result.exit_code, result.output
        assert (tmp_path / "seed-1" / "history.jsonl").is_file()
        assert "reproduce: chaoslab sim --seeds 1" in result.output

    def test_bad_input_exits_2(self) -> None:
        """A malformed seed range is a usage error naming the problem."""
        result = CliRunner().invoke(main, ["sim", "--seeds", "9..1"])

        assert 2 == result.exit_code
        assert "9..1" in result.output
