"""Quantities written in experiment files: durations (``10s``, ``250ms``) and bounds
(``">= 0.95"``, ``"<= 5s"``).

Rules: pure parsing, no IO. Every parse error is a ``ValueError`` whose message says what
was expected and what was found, so the loader can put a file position in front of it.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)\s*$")
_BOUND = re.compile(r"^\s*(<=|>=|==|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_OPERATORS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}


def parse_duration(value: object) -> float:
    """A duration in seconds from ``"10s"``, ``"250ms"``, ``"2m"`` or a plain number of seconds.

    Raises:
        ValueError: anything else, or a negative or non-finite number.
    """
    if isinstance(value, bool):
        msg = f"expected a duration such as 10s or 250ms, found {value!r}"
        raise ValueError(msg)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        msg = f"expected a duration such as 10s or 250ms, found {value!r}"
        raise ValueError(msg)
    if not math.isfinite(seconds) or seconds < 0:
        msg = f"expected a duration of 0 or more, found {value!r}"
        raise ValueError(msg)
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact text of a duration: ``10s``, ``250ms``, ``1.5s``."""
    if seconds and seconds < 1:
        millis = round(seconds * 1000, 3)
        return f"{millis:g}ms"
    return f"{round(seconds, 3):g}s"


@dataclass(frozen=True, slots=True)
class Bound:
    """A comparison an expectation makes: ``op`` against ``limit`` (seconds for durations)."""

    op: str
    limit: float
    text: str
    """As written (for reports)."""

    def holds(self, measured: float) -> bool:
        """Whether ``measured`` satisfies the bound."""
        return _OPERATORS[self.op](measured, self.limit)

    def __str__(self) -> str:
        return self.text


def parse_bound(value: object, *, duration: bool) -> Bound:
    """A bound from ``">= 0.95"`` (a plain number means ``==``, or ``<=`` for durations);
    with ``duration`` the limit may carry a unit (``"<= 5s"``) and is kept in seconds.

    Raises:
        ValueError: anything else.
    """
    example = '"<= 5s"' if duration else '">= 0.95"'
    if isinstance(value, bool):
        msg = f"expected a bound such as {example}, found {value!r}"
        raise ValueError(msg)
    if isinstance(value, int | float):
        op = "<=" if duration else "=="
        return Bound(op=op, limit=float(value), text=f"{op} {value}")
    if not isinstance(value, str):
        msg = f"expected a bound such as {example}, found {value!r}"
        raise ValueError(msg)
    match = _BOUND.match(value)
    if match is None:
        if duration:
            return Bound(op="<=", limit=parse_duration(value), text=f"<= {value.strip()}")
        msg = f"expected a bound such as {example}, found {value!r}"
        raise ValueError(msg)
    op, number, unit = match.groups()
    if unit and not duration:
        msg = f"expected a plain number in {example}-style bounds, found the unit in {value!r}"
        raise ValueError(msg)
    limit = float(number) * (_UNITS[unit] if unit else 1.0)
    return Bound(op=op, limit=limit, text=f"{op} {number}{unit or ''}")
