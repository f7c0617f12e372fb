"""Past runs under a runs directory (``runs/<experiment>/<time>-<backend>-<seed>/``), newest first.

Rules: reads only results.json of each run (never the history), so listing a
thousand runs stays fast; a run whose results.json is missing or malformed is
listed with its problem rather than hidden. The ``latest`` symlinks are not
runs and are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from experiments.report.rundir import REPORT, RESULTS, RunDirError, read_results

_STAMP: Final = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-(.+)-(-?\d+)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """One past run, as the listings show it.

    Attributes:
        experiment: the experiment's name.
        backend: sim, local or docker.
        seed: the seed.
        verdict: pass, fail, unknown, or ``broken`` (results.json unreadable).
        when: the start time, ISO 8601 UTC.
        dir: the run directory.
        has_report: whether report.html exists.
        problem: why the run is ``broken``, else None.
    """

    experiment: str
    backend: str
    seed: Any
    verdict: str
    when: str
    dir: Path
    has_report: bool
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON object (``dir`` as a string)."""
        return {"experiment": self.experiment, "backend": self.backend, "seed": self.seed,
                "verdict": self.verdict, "when": self.when, "dir": str(self.dir),
                "report": str(self.dir / REPORT) if self.has_report else None,
                **({"problem": self.problem} if self.problem else {})}


def _from_name(run_dir: Path) -> tuple[str, str, Any]:
    """(when, backend, seed) from a directory name like ``20261130T235900Z-sim-7``."""
    match = _STAMP.match(run_dir.name)
    if match is None:
        return "", "", ""
    y, mo, d, h, mi, s, backend, seed = match.groups()
    return f"{y}-{mo}-{d}T{h}:{mi}:{s}Z", backend, int(seed)


def summarize(run_dir: Path) -> RunSummary:
    """The summary of one run directory.

    Args:
        run_dir: the run directory.

    Returns:
        Its summary (verdict ``broken`` with the problem when results.json is bad).
    """
    when, backend, seed = _from_name(run_dir)
    has_report = (run_dir / REPORT).is_file()
    try:
        results = read_results(run_dir)
    except RunDirError as exc:
        return RunSummary(experiment=run_dir.parent.name, backend=backend, seed=seed,
                          verdict="broken", when=when, dir=run_dir, has_report=has_report,
                          problem=f"{exc.file}: {exc.problem}")
    verdict = results.get("verdict")
    return RunSummary(
        experiment=str(results.get("experiment") or run_dir.parent.name),
        backend=str(results.get("backend") or backend), seed=results.get("seed", seed),
        verdict=str(verdict) if verdict in ("pass", "fail", "unknown") else "unknown",
        when=str(results.get("started_at") or when), dir=run_dir, has_report=has_report)


def find_runs(runs_dir: Path) -> list[RunSummary]:
    """Every run under a runs directory, newest first.

    Args:
        runs_dir: the directory holding ``<experiment>/<run>/`` (e.g. ``runs``).

    Returns:
        The runs' summaries, newest first (ties: by directory name, descending).
    """
    found = []
    for experiment in sorted(Path(runs_dir).iterdir()):
        if experiment.is_symlink() or not experiment.is_dir():
            continue
        for run_dir in experiment.iterdir():
            if run_dir.is_symlink() or not run_dir.is_dir():
                continue
            if (run_dir / RESULTS).exists() or _STAMP.match(run_dir.name):
                found.append(summarize(run_dir))
    found.sort(key=lambda r: (r.when, r.dir.name, r.experiment), reverse=True)
    return found
