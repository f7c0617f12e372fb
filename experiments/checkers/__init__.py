"""Checkers: pure functions from a history to a verdict (True, False or "unknown").

Rules: no IO and no global state anywhere in this package; a time budget is
an argument (with an injectable clock), and running out of it gives
"unknown", never a guess. ``check_history`` picks the checker for a workload
model by name, as ``chaoslab check --model`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

from experiments.checkers.linearizable import Counterexample, check_linearizable
from experiments.checkers.models import (
    Candidate,
    Model,
    ModelError,
    RegisterModel,
    SetModel,
    canonical,
    describe_operation,
)
from experiments.checkers.result import UNKNOWN, CheckResult, Validity, compose, merge_valid
from experiments.checkers.sets import check_set
from experiments.history import Op

MODEL_NAMES: Final = ("register", "set")
"""The workload models ``check_history`` (and ``chaoslab check --model``) know."""

__all__ = [
    "MODEL_NAMES",
    "UNKNOWN",
    "Candidate",
    "CheckResult",
    "Counterexample",
    "Model",
    "ModelError",
    "RegisterModel",
    "SetModel",
    "Validity",
    "canonical",
    "check_history",
    "check_linearizable",
    "check_set",
    "compose",
    "describe_operation",
    "merge_valid",
]


def check_history(
    history: Sequence[Op],
    model: str,
    *,
    time_limit: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CheckResult:
    """Check a history with the checker of a workload model.

    ``register``: linearizability of a read/write/cas register per key.
    ``set``: the set checker (lost / unexpected / duplicated / recovered);
    it needs no search, so the time limit does not apply to it.

    Args:
        history: a valid history.
        model: ``register`` or ``set``.
        time_limit: seconds for the search; None for no limit.
        clock: the clock the budget is measured on.

    Returns:
        The verdict.

    Raises:
        ValueError: an unknown model name (the caller's mistake).
        ModelError: an operation the model cannot interpret (bad input).
    """
    if model == "register":
        return check_linearizable(history, RegisterModel(), time_limit=time_limit, clock=clock)
    if model == "set":
        return check_set(history)
    msg = f"unknown model {model!r}; expected one of {', '.join(MODEL_NAMES)}"
    raise ValueError(msg)
