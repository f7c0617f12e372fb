"""junit.xml: a run's expectations as JUnit test cases, so any CI shows chaos results natively.

Rules: one ``testcase`` per entry of results.json ``checks``, named after it,
in a ``testsuite`` named after the experiment. A check that does not hold is
a ``failure`` whose message says what was expected and what was measured. A
check whose verdict is ``unknown`` is an ``error``, not ``skipped``: CI
systems count skipped tests as harmless, and an undecided expectation (the
checker's budget ran out, a fault had no observable effect) must never look
green. Properties carry the run directory, the reproduce command, the seed
and the backend. Written atomically, like the report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from experiments.report.html import write_atomically
from experiments.report.rundir import JUNIT, read_results


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def junit_xml(results: Mapping[str, Any], run_dir: Path) -> str:
    """The JUnit XML document for a run's results.

    Args:
        results: results.json as decoded.
        run_dir: the run directory (a property, and the base of the report's path).

    Returns:
        The XML text, with its declaration.
    """
    experiment = _text(results.get("experiment")) or run_dir.parent.name
    backend, seed = _text(results.get("backend")), _text(results.get("seed"))
    checks = [c for c in results.get("checks", []) if isinstance(c, dict)]
    failures = sum(1 for c in checks if c.get("valid") is False)
    errors = sum(1 for c in checks if c.get("valid") not in (True, False))
    wall = results.get("wall_s")
    seconds = f"{wall:.3f}" if isinstance(wall, int | float) else "0"
    counts = {"tests": str(len(checks)), "failures": str(failures), "errors": str(errors),
              "skipped": "0", "time": seconds}
    root = ET.Element("testsuites", {"name": "chaoslab", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": f"chaoslab.{experiment}", **counts,
                                              "timestamp": _text(results.get("started_at"))})
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run_dir", str(run_dir)), ("command", _text(results.get("command"))),
                        ("seed", seed), ("backend", backend),
                        ("verdict", _text(results.get("verdict"))),
                        ("report", str(run_dir / "report.html"))):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    classname = f"chaoslab.{experiment}.{backend}.seed-{seed}"
    for check in checks:
        case = ET.SubElement(suite, "testcase", {"classname": classname,
                                                 "name": _text(check.get("name")), "time": "0"})
        expected, measured = _text(check.get("expected")), _text(check.get("measured"))
        summary = _text(check.get("summary"))
        valid = check.get("valid")
        if valid is False:
            failure = ET.SubElement(case, "failure", {
                "message": f"expected {expected}, measured {measured}",
                "type": "ExpectationFailed"})
            failure.text = summary
        elif valid is not True:
            error = ET.SubElement(case, "error", {
                "message": f"unknown: expected {expected}, measured {measured}",
                "type": "VerdictUnknown"})
            error.text = summary
        if summary:
            ET.SubElement(case, "system-out").text = summary
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(run_dir: Path) -> Path:
    """Write ``junit.xml`` in a run directory from its results.json.

    Args:
        run_dir: the run directory.

    Returns:
        The path of the written file.

    Raises:
        RunDirError: results.json is missing or malformed.
    """
    run_dir = Path(run_dir)
    path = run_dir / JUNIT
    write_atomically(path, junit_xml(read_results(run_dir), run_dir))
    return path
