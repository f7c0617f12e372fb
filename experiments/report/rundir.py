"""Reading a run directory (contract v1): experiment.yaml, history/events .jsonl, results.json.

Rules: the only IO of the report package besides writing its outputs. Missing
optional files (experiment.yaml, events.jsonl) read as empty; a missing or
malformed required file (history.jsonl, results.json) is a ``RunDirError``
naming the directory, the file (and line) and what was wrong. Unknown fields
and event types are kept as they are: newer runners may add them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from experiments.errors import BadInput
from experiments.history import HistoryError, Op, read_history

HISTORY: Final = "history.jsonl"
EVENTS: Final = "events.jsonl"
RESULTS: Final = "results.json"
EXPERIMENT: Final = "experiment.yaml"
REPORT: Final = "report.html"
JUNIT: Final = "junit.xml"


class RunDirError(BadInput, ValueError):
    """A run directory is missing a required file or holds a malformed one (bad input).

    Attributes:
        run_dir: the directory.
        file: the file at fault (relative to the directory).
        problem: what was wrong, in words (with the line, when there is one).
    """

    def __init__(self, *, run_dir: Path, file: str, problem: str) -> None:
        self.run_dir = run_dir
        self.file = file
        self.problem = problem
        super().__init__(f"{run_dir}: {file}: {problem}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFiles:
    """The contents of one run directory.

    Attributes:
        run_dir: where it was read from.
        experiment: the resolved experiment (None when experiment.yaml is absent).
        history: the validated history.
        events: cluster events in file order (empty when events.jsonl is absent).
        results: results.json as decoded.
    """

    run_dir: Path
    experiment: Mapping[str, Any] | None
    history: tuple[Op, ...]
    events: tuple[Mapping[str, Any], ...]
    results: Mapping[str, Any]


def _read_results(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RESULTS
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(run_dir=run_dir, file=RESULTS, problem="missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunDirError(run_dir=run_dir, file=RESULTS, problem=f"unreadable: {exc}") from None
    if not isinstance(results, dict):
        raise RunDirError(run_dir=run_dir, file=RESULTS,
                          problem=f"expected a JSON object, got {type(results).__name__}")
    checks = results.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise RunDirError(run_dir=run_dir, file=RESULTS,
                          problem="field 'checks': expected a list of objects")
    return results


def read_results(run_dir: Path) -> dict[str, Any]:
    """Read only results.json (what the run listing needs).

    Args:
        run_dir: the run directory.

    Returns:
        The decoded object.

    Raises:
        RunDirError: missing, unreadable, not an object, or ``checks`` malformed.
    """
    return _read_results(Path(run_dir))


def _read_events(run_dir: Path) -> tuple[dict[str, Any], ...]:
    path = run_dir / EVENTS
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(run_dir=run_dir, file=EVENTS, problem=f"unreadable: {exc}") from None
    events: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise RunDirError(run_dir=run_dir, file=EVENTS,
                              problem=f"line {number}: not JSON: {exc}") from None
        if not isinstance(event, dict):
            raise RunDirError(run_dir=run_dir, file=EVENTS,
                              problem=f"line {number}: expected a JSON object")
        moment = event.get("time")
        if not isinstance(moment, int) or isinstance(moment, bool) or moment < 0:
            raise RunDirError(run_dir=run_dir, file=EVENTS, problem=f"line {number}: field "
                              f"'time': expected integer nanoseconds >= 0, got {moment!r}")
        if not isinstance(event.get("type"), str):
            raise RunDirError(run_dir=run_dir, file=EVENTS,
                              problem=f"line {number}: field 'type': expected a string")
        events.append(event)
    return tuple(events)


def _read_experiment(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / EXPERIMENT
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RunDirError(run_dir=run_dir, file=EXPERIMENT,
                          problem=f"unreadable: {exc}") from None
    if not isinstance(loaded, dict):
        raise RunDirError(run_dir=run_dir, file=EXPERIMENT, problem="expected a mapping")
    return loaded


def load_run(run_dir: Path) -> RunFiles:
    """Read and validate every input file of a run directory.

    Args:
        run_dir: the run directory.

    Returns:
        Its contents.

    Raises:
        RunDirError: not a directory, or a required file missing or malformed
            (the history's own errors name the line and field).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(run_dir=run_dir, file=".", problem="not a directory")
    results = _read_results(run_dir)
    try:
        history = read_history(run_dir / HISTORY)
    except FileNotFoundError:
        raise RunDirError(run_dir=run_dir, file=HISTORY, problem="missing") from None
    except HistoryError as exc:
        raise RunDirError(run_dir=run_dir, file=HISTORY,
                          problem=f"line {exc.line}"
                          + (f": field {exc.field!r}" if exc.field else "")
                          + f": {exc.problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(run_dir=run_dir, file=HISTORY, problem=f"unreadable: {exc}") from None
    return RunFiles(run_dir=run_dir, experiment=_read_experiment(run_dir), history=history,
                    events=_read_events(run_dir), results=results)
