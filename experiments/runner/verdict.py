"""Judge a run: each expectation of the experiment becomes a check with a verdict, the
measured value and what was expected; the run's verdict is the worst of them.

Rules: pure, no IO (the linearizability search has a time budget: running out of it gives
``unknown``, never a guess). ``faults-observed`` is always checked when the run had
faults: a window with no observable effect (or a fault that could not be applied) makes
the verdict ``unknown``, so a broken fault layer can never turn a run green.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from experiments.checkers import check_linearizable
from experiments.checkers.result import UNKNOWN, CheckResult, Validity, merge_valid
from experiments.history import Op
from experiments.runner import analysis
from experiments.runner.analysis import FaultWindow
from experiments.spec.model import Expectations
from experiments.spec.quantities import Bound, format_duration

EXIT_CODES: Mapping[str, int] = {"pass": 0, "fail": 1, "unknown": 3}


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One expectation's verdict."""

    name: str
    valid: Validity
    expected: str
    measured: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The run-directory contract's shape."""
        out: dict[str, Any] = {
            "name": self.name,
            "valid": self.valid,
            "expected": self.expected,
            "measured": self.measured,
            "summary": self.summary,
        }
        if self.details:
            out["details"] = dict(self.details)
        return out


def verdict_of(checks: Sequence[Check]) -> str:
    """``fail`` if any check failed, else ``unknown`` if any is unknown, else ``pass``."""
    merged = merge_valid(c.valid for c in checks)
    return "fail" if merged is False else ("unknown" if merged == UNKNOWN else "pass")


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Per fault window: what showed it happened (None: nothing did)."""

    fault: FaultWindow
    evidence: str | None
    error: str | None = None


def _bound_check(name: str, bound: Bound, measured: float | None, unit: str,
                 *, absent: str) -> Check:
    if measured is None:
        return Check(name=name, valid=UNKNOWN, expected=str(bound), measured="none",
                     summary=absent)
    shown = format_duration(measured) if unit == "s" else f"{measured:g}"
    holds = bound.holds(measured)
    return Check(
        name=name,
        valid=holds,
        expected=str(bound),
        measured=shown,
        summary=f"{name} {shown} {'meets' if holds else 'misses'} {bound}",
    )


def judge(
    expect: Expectations,
    history: Sequence[Op],
    *,
    linearizability: CheckResult,
    availability: Mapping[str, Any],
    latency: Mapping[str, float | None],
    recovery_s: float | None,
    had_faults: bool,
    lost: Sequence[analysis.LostWrite],
    evidence: Sequence[Evidence],
    internal: Sequence[Mapping[str, Any]] = (),
) -> list[Check]:
    """Every check of the run (see the module docstring)."""
    checks: list[Check] = []
    if expect.linearizable is not None:
        found = linearizability.valid
        wanted = expect.linearizable
        valid: Validity = UNKNOWN if found == UNKNOWN else found is wanted
        checks.append(
            Check(
                name="linearizable",
                valid=valid,
                expected=str(wanted).lower(),
                measured=str(found).lower(),
                summary=linearizability.summary,
            )
        )
    if expect.lost_writes is not None:
        count = len(lost)
        example = (
            f"; e.g. {lost[0].key}={lost[0].value} (line {lost[0].index + 1}) read back as "
            f"{lost[0].final_value} (line {lost[0].final_index + 1})" if lost else ""
        )
        holds = expect.lost_writes.holds(count)
        checks.append(
            Check(
                name="lost-writes",
                valid=holds,
                expected=str(expect.lost_writes),
                measured=str(count),
                summary=f"{count} acknowledged write(s) lost{example}",
                details={"lost": [vars_of(w) for w in lost[:20]]},
            )
        )
    bounds = expect.availability
    if bounds is not None:
        totals = availability.get("totals", {})
        for side in ("quiet", "majority", "minority"):
            bound = getattr(bounds, side)
            if bound is None:
                continue
            row = totals.get(side, {})
            absent = (
                "no quiet window to measure"
                if side == "quiet"
                else f"no operations to measure on the {side} side"
            )
            check = _bound_check(f"availability.{side}", bound, row.get("yield"), "",
                                 absent=absent)
            checks.append(
                _with_details(check, {k: row.get(k) for k in ("invoked", "ok", "fail", "info")})
            )
    if expect.recovery is not None:
        if not had_faults:
            checks.append(Check(name="recovery", valid=True, expected=str(expect.recovery),
                                measured="no fault", summary="no fault to recover from"))
        else:
            check = _bound_check("recovery", expect.recovery, recovery_s, "s",
                                 absent="no write succeeded after the last heal")
            if recovery_s is None:
                check = _with_valid(check, False)
            checks.append(check)
    if expect.latency is not None:
        for name in ("p50", "p95", "p99", "max"):
            bound = getattr(expect.latency, name)
            if bound is None:
                continue
            measured_ms = latency.get(f"{name}_ms")
            measured = None if measured_ms is None else measured_ms / 1000
            checks.append(_bound_check(f"latency.{name}", bound, measured, "s",
                                       absent="no answered operation"))
    if evidence:
        checks.append(_observed(evidence))
    for extra in internal:
        checks.append(Check(**{k: extra[k] for k in
                               ("name", "valid", "expected", "measured", "summary")}))
    return checks


def _with_details(check: Check, details: Mapping[str, Any]) -> Check:
    return Check(name=check.name, valid=check.valid, expected=check.expected,
                 measured=check.measured, summary=check.summary, details=details)


def _with_valid(check: Check, valid: Validity) -> Check:
    return Check(name=check.name, valid=valid, expected=check.expected,
                 measured=check.measured, summary=check.summary, details=check.details)


def _observed(evidence: Sequence[Evidence]) -> Check:
    windows = []
    missing = []
    for item in evidence:
        fault = item.fault
        observed = item.evidence is not None and item.error is None
        windows.append({"id": fault.id, "fault": fault.fault, "observed": observed,
                        "evidence": item.error or item.evidence or "no observable effect"})
        if not observed:
            missing.append(f"#{fault.id} {fault.fault}: {item.error or 'no observable effect'}")
    seen = len(evidence) - len(missing)
    return Check(
        name="faults-observed",
        valid=True if not missing else UNKNOWN,
        expected="every fault window has an observable effect",
        measured=f"{seen} of {len(evidence)}",
        summary="every fault had an observable effect" if not missing
        else "no effect seen: " + "; ".join(missing),
        details={"windows": windows},
    )


def vars_of(write: analysis.LostWrite) -> dict[str, Any]:
    """A lost write as JSON."""
    return {"key": write.key, "value": write.value, "line": write.index + 1,
            "final_value": write.final_value, "final_line": write.final_index + 1}


def linearizability_of(history: Sequence[Op], *, time_limit_s: float,
                       clock: Callable[[], float] | None = None) -> CheckResult:
    """The linearizability verdict of a register history (within a time budget)."""
    if clock is None:
        return check_linearizable(history, time_limit=time_limit_s)
    return check_linearizable(history, time_limit=time_limit_s, clock=clock)
