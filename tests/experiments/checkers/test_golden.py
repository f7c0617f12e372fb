"""Golden histories in tests/data/histories keep their known verdicts.

File names say what to expect: ``MODEL-VERDICT-what.jsonl``, with MODEL
``register`` or ``set`` and VERDICT ``valid``, ``invalid`` or ``unknown``
(linearizability, for a register). ``consistency-expected.json`` adds, for
register histories with unique values, the strongest model satisfied and
the models refuted or undecided (every other model holds).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.checkers import MODELS, UNKNOWN, Validity, check_history, strongest_model
from experiments.history import read_history

HISTORIES = Path(__file__).parents[2] / "data" / "histories"
EXPECTED: dict[str, Validity] = {"valid": True, "invalid": False, "unknown": UNKNOWN}
FILES = sorted(HISTORIES.glob("*.jsonl"))
CONSISTENCY = {name: expected for name, expected in json.loads(
    (HISTORIES / "consistency-expected.json").read_text()).items() if not name.startswith("_")}


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


class TestConsistencyGoldens:
    def test_every_model_is_refuted_somewhere(self) -> None:
        """The collection holds, for each model, a history that breaks it."""
        refuted = {model for expected in CONSISTENCY.values() for model in expected["invalid"]}

        assert set(MODELS) <= refuted

    @pytest.mark.parametrize("name", sorted(CONSISTENCY), ids=lambda n: n.removesuffix(".jsonl"))
    def test_verdicts(self, name: str) -> None:
        """Each history gets its strongest model and its refuted and undecided models."""
        expected = CONSISTENCY[name]

        strongest, results = strongest_model(read_history(HISTORIES / name))

        assert (expected["strongest"], set(expected["invalid"]), set(expected["unknown"])) == (
            strongest, {m for m, r in results.items() if r.valid is False},
            {m for m, r in results.items() if r.valid == UNKNOWN})
