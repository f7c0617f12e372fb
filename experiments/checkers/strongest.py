"""The strongest consistency model a register history satisfies, and the anomalies found.

Rules: a pure function over a history (time budgets as for linearizability);
no IO, no global state.

The models, strongest first: linearizable > sequential > causal > session
(read-your-writes, monotonic reads, monotonic writes and writes-follow-reads
at once) > eventual. The first four are safety properties, each implying the
next when decided over the same scope (up to the linearizability search's
touching-windows convention, see ``experiments.checkers.sequential``).
Sequential consistency is decided per key and causal consistency across
keys, so a multi-key history can pass the first and fail the second; hence
a safety model is named only when it holds and no weaker one failed
("unknown" does not block: it was not refuted).
Convergence (eventual) is a liveness property that the safety models do not
imply (a linearizable store may still be mid-write at its final reads): it
is named only when no safety model holds, and reported as an anomaly when it
fails. When nothing is known to hold, the name is ``none``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from experiments.checkers.causal import CAUSAL, check_causal
from experiments.checkers.eventual import DEFAULT_BOUND_S, EVENTUAL, check_eventual
from experiments.checkers.linearizable import check_linearizable
from experiments.checkers.result import UNKNOWN, CheckResult, Validity
from experiments.checkers.sequential import check_sequential
from experiments.checkers.session import GUARANTEES, SESSION, check_session_guarantees
from experiments.history import Op

LINEARIZABLE: Final = "linearizable"
SEQUENTIAL: Final = "sequential"
SAFETY: Final = (LINEARIZABLE, SEQUENTIAL, CAUSAL, SESSION)
"""The safety models, strongest first."""
MODELS: Final = (LINEARIZABLE, SEQUENTIAL, CAUSAL, *GUARANTEES, SESSION, EVENTUAL)
"""Every model ``strongest_model`` checks."""
NONE: Final = "none"

__all__ = ["MODELS", "NONE", "SAFETY", "check_models", "strongest_model", "strongest_result"]


def check_models(
    history: Sequence[Op],
    *,
    time_limit: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    bound_s: float = DEFAULT_BOUND_S,
    linearizable: CheckResult | None = None,
) -> dict[str, CheckResult]:
    """Check every model of ``MODELS``.

    Args:
        history: a valid register history with unique written values.
        time_limit: seconds for each of the two searches (linearizable, sequential).
        clock: the clock their budgets are measured on.
        bound_s: the convergence bound for ``eventual``.
        linearizable: the history's linearizability verdict when the caller has it
            already (it is not searched again).

    Returns:
        model name -> result, in ``MODELS`` order.

    Raises:
        ModelError: an operation a register cannot interpret (bad input).
    """
    if linearizable is None:
        linearizable = check_linearizable(history, time_limit=time_limit, clock=clock)
    results = {
        LINEARIZABLE: linearizable,
        SEQUENTIAL: check_sequential(history, time_limit=time_limit, clock=clock),
        CAUSAL: check_causal(history),
        **check_session_guarantees(history),
        EVENTUAL: check_eventual(history, bound_s=bound_s),
    }
    return {name: results[name] for name in MODELS}


def _named(results: dict[str, CheckResult]) -> str:
    weaker_failed = False
    named = NONE
    for model in reversed(SAFETY):  # weakest first: remember whether anything below failed
        checked = [model, *GUARANTEES] if model == SESSION else [model]
        holds = results[model].valid is True
        if holds and not weaker_failed:
            named = model
        weaker_failed = weaker_failed or any(results[m].valid is False for m in checked)
    if named == NONE and results[EVENTUAL].valid is True:
        return EVENTUAL
    return named


def strongest_model(
    history: Sequence[Op],
    *,
    time_limit: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    bound_s: float = DEFAULT_BOUND_S,
    linearizable: CheckResult | None = None,
) -> tuple[str, dict[str, CheckResult]]:
    """Name the strongest model the history satisfies (see the module docstring).

    Args:
        history: a valid register history with unique written values.
        time_limit: seconds for each search.
        clock: the clock their budgets are measured on.
        bound_s: the convergence bound for ``eventual``.
        linearizable: the linearizability verdict, when the caller has it already.

    Returns:
        The model's name (one of ``SAFETY``, ``eventual`` or ``none``) and
        every model's result; the anomalies are the results whose ``valid`` is False.

    Raises:
        ModelError: an operation a register cannot interpret (bad input).
    """
    results = check_models(history, time_limit=time_limit, clock=clock, bound_s=bound_s,
                           linearizable=linearizable)
    return _named(results), results


def strongest_result(
    history: Sequence[Op],
    *,
    time_limit: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    bound_s: float = DEFAULT_BOUND_S,
) -> CheckResult:
    """``strongest_model`` as one result: valid when some model is known to hold.

    The details name the model (``strongest``), every model's verdict
    (``models``), the ``anomalies`` (models refuted) and each model's result.
    The verdict is True when a model is named, False when every model was
    refuted, else "unknown".
    """
    name, results = strongest_model(history, time_limit=time_limit, clock=clock,
                                    bound_s=bound_s)
    anomalies = [model for model, r in results.items() if r.valid is False]
    valid: Validity = True
    if name == NONE:
        valid = False if all(r.valid is False for r in results.values()) else UNKNOWN
    details: dict[str, Any] = {
        "strongest": name,
        "models": {model: r.valid for model, r in results.items()},
        "anomalies": anomalies,
        "results": {model: r.to_json() for model, r in results.items()},
    }
    lines = tuple(f"{model}: {r.summary}" for model, r in results.items())
    lines += tuple(f"  {line}" for model in anomalies for line in results[model].lines[:12])
    summary = (f"strongest model satisfied: {name}"
               + (f"; anomalies: {', '.join(anomalies)}" if anomalies else ""))
    return CheckResult(valid=valid, checker="strongest", summary=summary, details=details,
                       lines=lines)
