"""Checkers: pure functions from a history to a verdict (True, False or "unknown").

Rules: no IO and no global state anywhere in this package; a time budget is
an argument (with an injectable clock), and running out of it gives
"unknown", never a guess. ``check_history`` picks the checker for a workload
model and a consistency model by name, as ``chaoslab check --model
--consistency`` does.

Modules: ``linearizable`` (the search), ``sequential`` (the same search in
process order), ``session`` (the four session guarantees), ``causal``
(causal+ across keys), ``eventual`` (convergence after the heal),
``staleness`` (PBS: versions and time behind), ``strongest`` (the strongest
model satisfied), ``sets`` (the set workload); ``models``, ``accesses`` and
``constraints`` are what they share.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

from experiments.checkers.causal import check_causal
from experiments.checkers.eventual import DEFAULT_BOUND_S, check_eventual
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
from experiments.checkers.sequential import check_sequential
from experiments.checkers.session import GUARANTEES, check_session_guarantees
from experiments.checkers.sets import check_set
from experiments.checkers.staleness import check_staleness
from experiments.checkers.strongest import MODELS, strongest_model, strongest_result
from experiments.history import Op

MODEL_NAMES: Final = ("register", "set")
"""The workload models ``check_history`` (and ``chaoslab check --model``) know."""

CONSISTENCY_NAMES: Final = ("linearizable", "sequential", "causal", *GUARANTEES, "session",
                            "eventual", "staleness", "strongest")
"""The consistency models ``check_history`` knows for the register (the set: linearizable)."""

__all__ = [
    "CONSISTENCY_NAMES",
    "DEFAULT_BOUND_S",
    "MODELS",
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
    "check_causal",
    "check_eventual",
    "check_history",
    "check_linearizable",
    "check_sequential",
    "check_session_guarantees",
    "check_set",
    "check_staleness",
    "compose",
    "describe_operation",
    "merge_valid",
    "strongest_model",
    "strongest_result",
]


def check_history(
    history: Sequence[Op],
    model: str,
    *,
    consistency: str = "linearizable",
    time_limit: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    bound_s: float = DEFAULT_BOUND_S,
) -> CheckResult:
    """Check a history with the checker of a workload model and a consistency model.

    ``register``: any of ``CONSISTENCY_NAMES`` (linearizability by default;
    the weaker ones need unique written values). ``set``: the set checker
    (lost / unexpected / duplicated / recovered), only as ``linearizable``;
    it needs no search, so the time limit does not apply to it.

    Args:
        history: a valid history.
        model: ``register`` or ``set``.
        consistency: the consistency model to check.
        time_limit: seconds for each search (linearizable, sequential); None for no limit.
        clock: the clock the budget is measured on.
        bound_s: seconds after the heal by which replicas must agree (``eventual``).

    Returns:
        The verdict.

    Raises:
        ValueError: an unknown model or consistency name, or a consistency
            model the workload model has no checker for (the caller's mistake).
        ModelError: an operation the model cannot interpret (bad input).
    """
    if model == "set":
        if consistency != "linearizable":
            msg = f"the set model is checked as linearizable only, not {consistency!r}"
            raise ValueError(msg)
        return check_set(history)
    if model != "register":
        msg = f"unknown model {model!r}; expected one of {', '.join(MODEL_NAMES)}"
        raise ValueError(msg)
    if consistency == "linearizable":
        return check_linearizable(history, RegisterModel(), time_limit=time_limit, clock=clock)
    if consistency == "sequential":
        return check_sequential(history, time_limit=time_limit, clock=clock)
    if consistency == "causal":
        return check_causal(history)
    if consistency in (*GUARANTEES, "session"):
        return check_session_guarantees(history)[consistency]
    if consistency == "eventual":
        return check_eventual(history, bound_s=bound_s)
    if consistency == "staleness":
        return check_staleness(history)
    if consistency == "strongest":
        return strongest_result(history, time_limit=time_limit, clock=clock, bound_s=bound_s)
    msg = (f"unknown consistency model {consistency!r}; "
           f"expected one of {', '.join(CONSISTENCY_NAMES)}")
    raise ValueError(msg)
