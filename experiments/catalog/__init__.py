"""The experiment catalog: one YAML file per classic chaos experiment, each stating in its
description what a CP store must show.

Rules: data only; ``path`` finds a file whether chaoslab runs from a checkout or from an
installed wheel (the files ship as package data).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    """Every catalog experiment's name, sorted."""
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def path(name: str) -> Path:
    """The file of catalog experiment ``name``.

    Raises:
        KeyError: no such experiment (the message lists them).
    """
    found = HERE / f"{name}.yaml"
    if not found.is_file():
        msg = f"no catalog experiment {name!r}; there are: {', '.join(names())}"
        raise KeyError(msg)
    return found
