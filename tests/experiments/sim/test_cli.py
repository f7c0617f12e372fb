"""``chaoslab sim``: seeds, nemeses, exit codes and the reproduce line."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.schedule import NemesisKind
from experiments.sim.cli import parse_nemeses, parse_seeds, parse_weights, reproduce_command
from experiments.sim.run import ALL_NEMESES, DEFAULT_WEIGHTS, SimSpec


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
        spec = SimSpec(
            nodes=3, duration_s=20, nemeses=(NemesisKind.KILL,), weights=None, compose=0.25,
            bug="no-session-dedupe",
        )

        line = reproduce_command(spec, 12)

        assert (
            "chaoslab sim --seeds 12 --nodes 3 --duration 20 --recovery 8 --nemesis kill "
            "--compose 0.25 "
            "--bug no-session-dedupe" == line
        )

    def test_all_means_the_weighted_default_mix(self) -> None:
        """``all``, or no nemesis without a bug, is the weighted default mix; named faults,
        and a bug's own, are drawn equally often."""
        assert DEFAULT_WEIGHTS == parse_weights(("all",), None)
        assert DEFAULT_WEIGHTS == parse_weights((), None)
        assert DEFAULT_WEIGHTS == parse_weights(("all",), "votes-not-persisted")
        assert parse_weights((), "votes-not-persisted") is None
        assert parse_weights(("kill,loss",), None) is None

    def test_reproduce_command_of_the_default_mix_says_all(self) -> None:
        """The default mix is reproduced by ``--nemesis all``, which draws it again by weight."""
        spec = SimSpec(duration_s=20, recovery_s=5, bug="votes-not-persisted")

        line = reproduce_command(spec, 3)

        assert (
            "chaoslab sim --seeds 3 --nodes 5 --duration 20 --recovery 5 --nemesis all "
            "--compose 0.8 --bug votes-not-persisted" == line
        )

    def test_every_kind_named_is_drawn_equally_often(self) -> None:
        """Naming every kind one by one is not ``all``: the reproduce line keeps the list,
        so the same uniform draws come back."""
        spec = SimSpec(weights=None, compose=0.25)

        line = reproduce_command(spec, 3)

        assert "--nemesis " + ",".join(k.value for k in ALL_NEMESES) in line


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

    @pytest.mark.parametrize(
        ("args", "weighted", "compose"),
        [
            (["--nemesis", "all", "--bug", "votes-not-persisted"], True, 0.8),
            ([], True, 0.8),
            (["--bug", "votes-not-persisted"], False, 1.0),
            (["--nemesis", "kill,loss"], False, 0.25),
            (["--nemesis", "all", "--compose", "0.5"], True, 0.5),
        ],
    )
    def test_which_mix_reaches_the_sweep(
        self, monkeypatch: pytest.MonkeyPatch, args: list[str], weighted: bool, compose: float
    ) -> None:
        """``all`` (named, or by default without a bug) sweeps the weighted default mix,
        composed 0.8 unless ``--compose`` says otherwise; a bug's own faults and named
        faults are drawn equally often, with their own composition."""
        specs: list[SimSpec] = []

        def fake_sweep(spec: SimSpec, *_: object, **__: object) -> list[object]:
            specs.append(spec)
            return []

        monkeypatch.setattr("experiments.sim.cli.sweep", fake_sweep)

        result = CliRunner().invoke(main, ["sim", "--seeds", "1", *args])

        assert 0 == result.exit_code, result.output
        (spec,) = specs
        assert (DEFAULT_WEIGHTS if weighted else None) == spec.weights
        assert compose == spec.compose

    def test_bad_input_exits_2(self) -> None:
        """A malformed seed range is a usage error naming the problem."""
        result = CliRunner().invoke(main, ["sim", "--seeds", "9..1"])

        assert 2 == result.exit_code
        assert "9..1" in result.output
