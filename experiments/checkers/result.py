"""Checker verdicts: three-valued validity and the result every checker returns.

Rules: plain values, no IO. ``valid`` is True, False or ``"unknown"`` (the
checker could not decide, e.g. its time budget ran out); merging keeps the
worst: False > "unknown" > True.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

UNKNOWN: Final = "unknown"
Validity: TypeAlias = bool | Literal["unknown"]
"""True (holds), False (violated) or "unknown" (undecided: never a guess)."""


def merge_valid(valids: Iterable[Validity]) -> Validity:
    """Combine verdicts, keeping the worst: False > "unknown" > True.

    Args:
        valids: the verdicts to merge (none merges to True).

    Returns:
        The worst verdict.
    """
    merged: Validity = True
    for valid in valids:
        if valid is False:
            return False
        if valid == UNKNOWN:
            merged = UNKNOWN
    return merged


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """What a checker found about one history.

    Attributes:
        valid: the verdict.
        checker: which checker produced it (``linearizable``, ``set``, ...).
        summary: one line for people.
        details: JSON-serialisable facts (counts, examples, counterexample).
        lines: a readable explanation, one line each (e.g. a counterexample).
    """

    valid: Validity
    checker: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    lines: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready object: valid, checker, summary, then the details."""
        return {"valid": self.valid, "checker": self.checker, "summary": self.summary,
                **self.details}


def compose(results: Mapping[str, CheckResult]) -> CheckResult:
    """Combine named results into one whose verdict is the worst of them.

    Args:
        results: checker name -> result.

    Returns:
        A result whose details map each name to its result's JSON.
    """
    valid = merge_valid(r.valid for r in results.values())
    summary = "; ".join(f"{name}: {r.summary}" for name, r in results.items())
    lines = tuple(line for r in results.values() for line in r.lines)
    details = {name: r.to_json() for name, r in results.items()}
    return CheckResult(valid=valid, checker="compose", summary=summary, details=details,
                       lines=lines)
