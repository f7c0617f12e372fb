"""Experiments that switch on a seeded bug (``cluster.unsafe``), one per bug, each with the
faults that expose it: the proof that the runner's verdicts catch broken stores on real
processes as well as in the simulator (``chaoslab bench bugs``).

Rules: data only; never part of the catalog (these runs are meant to fail).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def paths() -> list[Path]:
    """Every bug experiment, sorted by name."""
    return sorted(HERE.glob("*.yaml"))
