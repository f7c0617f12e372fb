"""What a test gets back from a run, and the text a failing test prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from experiments.pytest_plugin.results import ChaosResult
from experiments.runner.api import RunOutcome

CHECKS = [
    {"name": "linearizable", "valid": False, "expected": "true", "measured": "false",
     "summary": 'not linearizable: key "k0"'},
    {"name": "lost-writes", "valid": True, "expected": "== 0", "measured": "0",
     "summary": "0 acknowledged write(s) lost"},
    {"name": "availability.minority", "valid": True, "expected": "<= 0.05", "measured": "0",
     "summary": "availability.minority 0 meets <= 0.05"},
]
COUNTEREXAMPLE = {
    "key": '"k0"',
    "failing": [
        {"process": 2, "f": "read", "key": "k0", "value": 37, "type": "ok",
         "start": 2_008_854_112, "end": 2_009_835_861},
        {"process": 1, "f": "write", "key": "k0", "value": 39, "type": "ok",
         "start": 1_186_665_979, "end": 1_192_599_105},
    ],
    "reason": "no order can explain the first operation",
}


def _outcome(checks: list[dict[str, Any]], verdict: str, run_dir: Path | None) -> RunOutcome:
    results = {
        "checks": checks,
        "availability": {"totals": {
            "quiet": {"invoked": 222, "answered": 221, "yield": 0.9955},
            "majority": {"invoked": 334, "answered": 334, "yield": 1.0},
            "minority": {"invoked": 0, "answered": 0, "yield": None},
        }},
        "recovery_s": 0.0608,
        "stats": {"operations": 669},
        "linearizability": {"counterexample": COUNTEREXAMPLE},
    }
    return RunOutcome(experiment="bug", backend="sim", seed=3, verdict=verdict,
                      exit_code={"pass": 0, "fail": 1, "unknown": 3}[verdict], dir=run_dir,
                      command="chaoslab run EXPERIMENT.yaml --backend sim --seed 3",
                      results=results)


class TestResult:
    """The result object reads results.json for the test."""

    def test_verdicts_and_measures(self, tmp_path: Path) -> None:
        """Checks, availability per side, recovery and files."""
        result = ChaosResult(outcome=_outcome(CHECKS, "fail", tmp_path))

        assert (False, ("linearizable",), 0.9955, None, 0.0608) == (
            result.passed, tuple(c.name for c in result.failed_checks),
            result.availability("quiet"), result.availability("minority"), result.recovery_s)
        assert (tmp_path / "report.html", tmp_path / "junit.xml") == (result.report,
                                                                     result.junit)

    def test_an_unknown_check_name_lists_the_checks(self) -> None:
        """Asking for a check the run does not have says which it has."""
        result = ChaosResult(outcome=_outcome(CHECKS, "fail", None))

        with pytest.raises(KeyError, match="it has: linearizable, lost-writes"):
            result.check("linearisable")

    def test_the_reproduce_command_uses_the_source_file(self, tmp_path: Path) -> None:
        """With a file, the command runs that file; without one, the run's experiment.yaml."""
        source = tmp_path / "mine.yaml"
        with_file = ChaosResult(outcome=_outcome(CHECKS, "fail", tmp_path), source=source)
        without = ChaosResult(outcome=_outcome(CHECKS, "fail", tmp_path))

        assert (f"chaoslab run {source} --backend sim --seed 3",
                f"chaoslab run {tmp_path}/experiment.yaml --backend sim --seed 3") == (
            with_file.command, without.command)

    def test_junit_properties(self, tmp_path: Path) -> None:
        """The run's identity, files and each check go to JUnit as properties."""
        properties = dict(ChaosResult(outcome=_outcome(CHECKS, "fail", tmp_path)).properties())

        assert {
            "chaoslab_experiment": "bug", "chaoslab_backend": "sim", "chaoslab_seed": "3",
            "chaoslab_verdict": "fail", "chaoslab_run_dir": str(tmp_path),
            "chaoslab_report": str(tmp_path / "report.html"),
            "chaoslab_check_linearizable": "failed: measured false, expected true",
        }.items() <= properties.items()


class TestExplain:
    """The failure text says what failed, measured against expected, and where to look."""

    def test_a_failed_run(self, tmp_path: Path) -> None:
        """Headline, every check, the counterexample in words, files, commands."""
        result = ChaosResult(outcome=_outcome(CHECKS, "fail", tmp_path),
                             test_id="tests/test_x.py::test_y[seed-3]")

        assert [
            "chaos experiment 'bug' failed on sim with seed 3: 1 expectation(s) did not hold "
            "(linearizable)",
            "  ✗ linearizable           measured false, expected true",
            '      not linearizable: key "k0"',
            "      no order of the operations on key k0 explains: process 2 read k0 -> 37 "
            "(ok, 2.009-2.010 s)",
            "        with process 1 write k0 39 (ok, 1.187-1.193 s)",
            "      (no order can explain the first operation)",
            "  ✓ lost-writes            measured 0, expected == 0",
            "  ✓ availability.minority  measured 0, expected <= 0.05",
            "operations answered: quiet 221/222, majority 334/334 (quiet: no fault in force; "
            "majority/minority: the side of a fault a client's node was on)",
            f"run directory: {tmp_path}",
            f"report:        {tmp_path}/report.html",
            f"reproduce:     chaoslab run {tmp_path}/experiment.yaml --backend sim --seed 3",
            "  or:          pytest 'tests/test_x.py::test_y[seed-3]'",
        ] == result.explain().splitlines()

    def test_an_unknown_verdict_never_passes(self) -> None:
        """An undecided check makes the headline say UNKNOWN, and why it fails the test."""
        checks = [{"name": "faults-observed", "valid": "unknown", "expected": "every fault",
                   "measured": "0 of 1", "summary": "a fault had no observable effect"}]
        result = ChaosResult(outcome=_outcome(checks, "unknown", None))

        assert result.explain().splitlines()[:2] == [
            "chaos experiment 'bug' on sim with seed 3: verdict UNKNOWN (faults-observed could "
            "not be decided); an undecided run never passes",
            "  ? faults-observed  measured 0 of 1, expected every fault",
        ]
