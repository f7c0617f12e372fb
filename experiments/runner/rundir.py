"""The run directory: ``runs/<experiment>/<time>-<backend>-<seed>/`` and its files.

Rules: the only module that writes a run's files. Files are written whole, through a
temporary name and a rename, so a reader never sees half a file; ``latest`` links are
replaced atomically. Names are the contract of DESIGN.md "Results".
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from experiments.history import Op, format_history
from experiments.spec.model import Experiment

HISTORY = "history.jsonl"
EVENTS = "events.jsonl"
RESULTS = "results.json"
EXPERIMENT = "experiment.yaml"
LOGS = "logs"


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def make_run_dir(root: Path, experiment: str, backend: str, seed: int, started: datetime) -> Path:
    """Create a fresh directory for one run (a suffix keeps two runs of one second apart)."""
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    base = root / experiment / f"{stamp}-{backend}-{seed}"
    path = base
    counter = 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            counter += 1
            path = base.with_name(f"{base.name}-{counter}")
            continue
        return path


def link_latest(root: Path, run_dir: Path) -> None:
    """Point ``root/latest`` and ``root/<experiment>/latest`` at ``run_dir``."""
    for parent in (root, run_dir.parent):
        link = parent / "latest"
        tmp = parent / f".latest.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.path.relpath(run_dir, parent))
        tmp.replace(link)


def experiment_text(experiment: Experiment) -> str:
    """The experiment as YAML (dash keys, durations with units, no empty fields)."""
    data = experiment.model_dump(by_alias=True, mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write_run(
    run_dir: Path,
    *,
    experiment: Experiment,
    history: Iterable[Op],
    events: Iterable[Mapping[str, Any]],
    results: Mapping[str, Any],
) -> None:
    """Write ``experiment.yaml``, ``history.jsonl``, ``events.jsonl`` and ``results.json``."""
    _write(run_dir / EXPERIMENT, experiment_text(experiment))
    _write(run_dir / HISTORY, format_history(history))
    _write(
        run_dir / EVENTS,
        "".join(json.dumps(e, separators=(", ", ": ")) + "\n" for e in events),
    )
    _write(run_dir / RESULTS, json.dumps(results, indent=2) + "\n")
