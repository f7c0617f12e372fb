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

    def test_deeply_nested_value_is_bad_input(self, tmp_path: Path) -> None:
        """A value of 100,000 nested lists exits 2 naming file and line, not RecursionError."""
        path = tmp_path / "deep.jsonl"
        path.write_text('{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": '
                        + "[" * 100_000 + "]" * 100_000 + ', "time": 1}\n')

        result = run(str(path), "--model", "register")

        assert 2 == result.exit_code
        assert f"{path}:1: arrays/objects nested more than 100 levels deep" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)

    def test_dev_zero_is_bad_input(self) -> None:
        """/dev/zero is read no further than one line's bound, then exits 2."""
        result = run("/dev/zero", "--model", "register")

        assert 2 == result.exit_code
        assert "/dev/zero:1: line longer than" in result.output

    def test_set_with_a_weaker_model_is_a_usage_error(self) -> None:
        """--consistency other than linearizable needs the register model (exit 2)."""
        result = run(SET_INVALID, "--model", "set", "--consistency", "causal")

        assert 2 == result.exit_code
        assert "needs --model register" in result.output


class TestNoOperations:
    @pytest.mark.parametrize("text", ["", "\n\n", '{"process": "nemesis", "type": "invoke", '
                                      '"f": "kill", "time": 1}\n'],
                             ids=["empty", "blank-lines", "nemesis-only"])
    def test_reported_as_unknown(self, tmp_path: Path, text: str) -> None:
        """A history without client operations says "no operations" and exits 3, not valid."""
        path = tmp_path / "empty.jsonl"
        path.write_text(text)

        result = run(str(path), "--model", "register")

        assert (3, True) == (result.exit_code, "no operations" in result.output)
        assert "UNKNOWN" in result.output

    def test_json_says_so(self, tmp_path: Path) -> None:
        """In --json the verdict is "unknown" with the reason and zero operations."""
        path = tmp_path / "empty.jsonl"
        path.write_text("")

        found = json.loads(run(str(path), "--model", "set", "--json").output)

        assert ("unknown", "no operations", 0) == (found["valid"], found["reason"],
                                                   found["operations"])


class TestConsistency:
    @pytest.mark.parametrize(
        ("name", "consistency", "code"),
        [
            ("register-invalid-stale-read-by-a-new-process", "linearizable", 1),
            ("register-invalid-stale-read-by-a-new-process", "sequential", 0),
            ("register-invalid-causal-across-keys", "causal", 1),
            ("register-invalid-causal-across-keys", "session", 0),
            ("register-invalid-monotonic-reads", "monotonic-reads", 1),
            ("register-invalid-monotonic-reads", "read-your-writes", 0),
            ("register-invalid-replicas-diverged", "eventual", 1),
            ("register-valid-no-final-reads", "eventual", 3),
            ("register-invalid-stale-read-by-a-new-process", "staleness", 1),
            ("register-valid-all-models", "strongest", 0),
        ],
    )
    def test_exit_code_per_model(self, name: str, consistency: str, code: int) -> None:
        """Each consistency model gets its own verdict on the same golden history."""
        path = str(HISTORIES / f"{name}.jsonl")

        assert code == run(path, "--model", "register", "--consistency", consistency).exit_code

    def test_strongest_json(self) -> None:
        """--consistency strongest names the model, every verdict and the anomalies."""
        path = str(HISTORIES / "register-invalid-causal-across-keys.jsonl")

        found = json.loads(run(path, "--model", "register", "--consistency", "strongest",
                               "--json").output)

        assert ("session", ["linearizable", "causal"], True) == (
            found["strongest"], found["anomalies"], found["valid"])
        assert {"history", "valid", "elapsed_s", "models", "results"} <= set(found)

    def test_violation_names_operations(self) -> None:
        """A weaker model's violation is printed with the operations behind it."""
        path = str(HISTORIES / "register-invalid-monotonic-reads.jsonl")

        result = run(path, "--model", "register", "--consistency", "monotonic-reads")

        assert "INVALID" in result.output
        assert "monotonic-reads: process 1 read 1 (op 2) then null (op 4)" in result.output

    def test_convergence_bound(self) -> None:
        """A tighter --convergence-bound than the replicas needed turns eventual invalid."""
        path = str(HISTORIES / "register-valid-all-models.jsonl")

        assert (0, 1) == tuple(run(path, "--model", "register", "--consistency", "eventual",
                                   "--convergence-bound", bound).exit_code
                               for bound in ("1", "0"))


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
