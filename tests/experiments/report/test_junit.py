"""junit.xml: a case per expectation; failures say expected vs measured; unknown is an error."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from experiments.report import write_junit
from experiments.report.testing import SampleRuns


def _suite(path: Path) -> ET.Element:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return suite


class TestWriteJunit:
    def test_one_case_per_check(self, samples: SampleRuns) -> None:
        """Every check of results.json is a test case named after it, in an experiment suite."""
        results = json.loads((samples.passing / "results.json").read_text())
        suite = _suite(write_junit(samples.passing))

        assert [c["name"] for c in results["checks"]] == [
            case.get("name") for case in suite.iter("testcase")]
        assert ("chaoslab.isolate-leader", "0", "0") == (
            suite.get("name"), suite.get("failures"), suite.get("errors"))

    def test_failure_says_expected_and_measured(self, samples: SampleRuns) -> None:
        """A failed expectation is a failure whose message is what was expected and measured."""
        suite = _suite(write_junit(samples.failing))
        failures = {case.get("name"): case.find("failure") for case in suite.iter("testcase")
                    if case.find("failure") is not None}

        assert {"linearizable", "availability.minority"} == set(failures)
        linearizable = failures["linearizable"]
        assert linearizable is not None
        assert "expected true, measured false" == linearizable.get("message")

    def test_unknown_is_an_error(self, old_format: Path) -> None:
        """An undecided expectation is an error (never a skip, which CI shows as harmless)."""
        suite = _suite(write_junit(old_format))
        error = next(suite.iter("testcase")).find("error")

        assert error is not None
        assert ("1", "0", "VerdictUnknown") == (suite.get("errors"), suite.get("skipped"),
                                                error.get("type"))

    def test_properties_reproduce_the_run(self, tiny_fail: Path) -> None:
        """Properties name the run directory, the reproduce command, seed and backend."""
        suite = _suite(write_junit(tiny_fail))
        properties = {p.get("name"): p.get("value") for p in suite.iter("property")}

        assert {"run_dir": str(tiny_fail),
                "command": "chaoslab run experiments/catalog/tiny-fail.yaml --backend sim "
                           "--seed 1",
                "seed": "1", "backend": "sim"}.items() <= properties.items()
