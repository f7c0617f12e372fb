"""Golden histories in tests/data/histories keep their known verdicts.

File names say what to expect: ``MODEL-VERDICT-what.jsonl``, with MODEL
``register`` or ``set`` and VERDICT ``valid``, ``invalid`` or ``unknown``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.checkers import UNKNOWN, Validity, check_history
from experiments.history import read_history

HISTORIES = Path(__file__).parents[2] / "data" / "histories"
EXPECTED: dict[str, Validity] = {"valid": True, "invalid": False, "unknown": UNKNOWN}
FILES = sorted(HISTORIES.glob("*.jsonl"))


class TestGoldenHistories:
    def test_there_are_must_fail_histories(self) -> None:
        """The collection holds invalid histories for both models, not only valid ones."""
        kinds = {tuple(path.name.split("-")[:2]) for path in FILES}

        assert {("register", "invalid"), ("set", "invalid"), ("register", "valid")} <= kinds

    @pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
    def test_verdict(self, path: Path) -> None:
        """Each golden history gets the verdict its name promises."""
        model, verdict, _ = path.name.split("-", 2)

        result = check_history(read_history(path), model)

        assert EXPECTED[verdict] == result.valid

    @pytest.mark.parametrize("path", [p for p in FILES if p.name.startswith("register-invalid")],
                             ids=lambda p: p.stem)
    def test_counterexample_is_readable_json(self, path: Path) -> None:
        """Invalid register histories come with a JSON counterexample naming the key."""
        result = check_history(read_history(path), "register")
        found = json.loads(json.dumps(result.to_json()))["counterexample"]

        assert '"x"' == found["key"] or found["key"].startswith('"k')
        assert found["failing"]
