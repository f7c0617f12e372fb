"""``chaoslab check``: exit codes 0/1/2/3, readable verdicts, and one JSON line per history."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from experiments import check_cli
from experiments.checkers import check_history
from experiments.cli import main

HISTORIES = Path(__file__).parents[1] / "data" / "histories"
VALID = str(HISTORIES / "register-valid-design-example.jsonl")
INVALID = str(HISTORIES / "register-invalid-lost-write.jsonl")
SET_UNKNOWN = str(HISTORIES / "set-unknown-no-final-read.jsonl")
SET_INVALID = str(HISTORIES / "set-invalid-lost.jsonl")


def run(*args: str) -> Result:
    """Invoke ``chaoslab check`` with these arguments."""
    return CliRunner().invoke(main, ["check", *args])


def crowded(tmp_path: Path) -> str:
    """A register history whose search takes many steps (concurrent writes, bad reads)."""
    lines = []
    for p in range(12):
        lines.append({"process": p, "type": "invoke", "f": "write", "key": "x", "value": p,
                      "time": 0})
    for p in range(12):
        lines.append({"process": p, "type": "ok", "f": "write", "key": "x", "value": p,
                      "time": 100})
    for n, (value, start) in enumerate([(0, 200), (1, 220)]):
        lines.append({"process": 12, "type": "invoke", "f": "read", "key": "x", "value": None,
                      "time": start + n})
        lines.append({"process": 12, "type": "ok", "f": "read", "key": "x", "value": value,
                      "time": start + 10})
    path = tmp_path / "crowded.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


class TestExitCodes:
    def test_valid_is_0(self) -> None:
        """A linearizable history exits 0 and says valid."""
        result = run(VALID, "--model", "register")

        assert 0 == result.exit_code
        assert "valid" in result.output

    def test_invalid_is_1_with_counterexample(self) -> None:
        """A non-linearizable history exits 1 and prints the ops that cannot be linearized."""
        result = run(INVALID, "--model", "register")

        assert 1 == result.exit_code
        assert "INVALID" in result.output
        assert "cannot be linearized" in result.output
        assert "[40 .. 50]" in result.output

    def test_unknown_is_3(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """An exhausted time budget (a clock that races ahead) exits 3."""
        ticks = iter(range(10**9))
        monkeypatch.setattr(check_cli, "check_history", functools.partial(
            check_history, clock=lambda: float(next(ticks))))

        result = run(crowded(tmp_path), "--model", "register", "--time-limit", "3.5")

        assert 3 == result.exit_code
        assert "UNKNOWN" in result.output

    def test_set_unknown_is_3(self) -> None:
        """A set history with no final read is undecided: exit 3."""
        assert 3 == run(SET_UNKNOWN, "--model", "set").exit_code

    def test_set_invalid_is_1(self) -> None:
        """A lost element exits 1 and names it."""
        result = run(SET_INVALID, "--model", "set")

        assert 1 == result.exit_code
        assert "lost: 1 element(s)" in result.output

    def test_worst_of_several_files(self) -> None:
        """With several files the exit code is the worst verdict: invalid beats valid."""
        assert 1 == run(VALID, INVALID, "--model", "register").exit_code

    def test_unknown_does_not_hide_invalid(self) -> None:
        """An invalid history among unknown ones still exits 1."""
        assert 1 == run(SET_UNKNOWN, SET_INVALID, "--model", "set").exit_code


class TestBadInput:
    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file exits 2 with one line naming it."""
        missing = tmp_path / "nope.jsonl"

        result = run(str(missing), "--model", "register")

        assert 2 == result.exit_code
        assert f"{missing}: cannot read" in result.output

    @pytest.mark.parametrize(
        ("text", "where"),
        [
            pytest.param('{"process": 0, "type": "invoke", "f": "read", "key": "x", '
                         '"value": null, "time": 1}\n\n{"process": 0, "type": "ok", '
                         '"f": "read", "key": "x", "value": 1, "time": "late"}\n',
                         ":3: field 'time':", id="malformed-line"),
            pytest.param('{"process": 0, "type": "invoke", "f": "cas", "key": "x", "value": 3,'
                         ' "time": 1}\n', ":1: field 'value':", id="cas-value-not-a-pair"),
        ],
    )
    def test_names_file_line_and_field(self, tmp_path: Path, text: str, where: str) -> None:
        """A malformed history, or an op the model cannot read, exits 2 naming file:line: field."""
        path = tmp_path / "bad.jsonl"
        path.write_text(text)

        result = run(str(path), "--model", "register")

        assert 2 == result.exit_code
        assert f"{path}{where}" in result.output

    def test_bad_input_outranks_invalid(self, tmp_path: Path) -> None:
        """A bad file among checked ones exits 2, after checking the others."""
        result = run(INVALID, str(tmp_path / "nope.jsonl"), "--model", "register")

        assert 2 == result.exit_code
        assert "INVALID" in result.output

    def test_model_is_required(self) -> None:
        """Leaving out --model is a usage error (exit 2)."""
        assert 2 == run(VALID).exit_code


class TestJson:
    def test_one_object_per_history(self) -> None:
        """--json prints one object per history with history, valid and elapsed_s."""
        result = run(VALID, INVALID, "--model", "register", "--json")
        objects = [json.loads(line) for line in result.output.splitlines()]

        assert [(VALID, True), (INVALID, False)] == [(o["history"], o["valid"])
                                                      for o in objects]
        assert all(isinstance(o["elapsed_s"], float) for o in objects)
        assert 3 == objects[1]["counterexample"]["prefix_length"]

    def test_unknown_is_the_string(self) -> None:
        """An undecided verdict is the string "unknown" in JSON."""
        result = run(SET_UNKNOWN, "--model", "set", "--json")

        assert "unknown" == json.loads(result.output)["valid"]
