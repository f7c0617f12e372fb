"""Fixtures for checker tests: a compact way to write histories by hand."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from experiments.history import Op, validate_history

Build = Callable[..., list[Op]]


def build_history(*rows: tuple[Any, ...]) -> list[Op]:
    """A history from rows ``(process, f, value, start, end, outcome[, key[, error]])``.

    ``value`` is what the op wrote (write, cas, add) or read (read); ``end``
    None leaves the invoke pending. The default key is ``"x"``.
    """
    events: list[tuple[int, int, Op]] = []
    for n, row in enumerate(rows):
        process, f, value, start, end, outcome, *rest = row
        key = rest[0] if rest else "x"
        error = rest[1] if len(rest) > 1 else None
        called = None if f == "read" else value
        events.append((start, 2 * n, Op(index=0, process=process, type="invoke", f=f, key=key,
                                        value=called, time=start)))
        if end is not None:
            shown = value if outcome == "ok" or f != "read" else None
            events.append((end, 2 * n + 1, Op(index=0, process=process, type=outcome, f=f,
                                              key=key, value=shown, time=end, error=error)))
    ordered = [op for _, _, op in sorted(events, key=lambda e: (e[0], e[1]))]
    history = [dataclasses.replace(op, index=i) for i, op in enumerate(ordered)]
    validate_history(history)
    return history


@pytest.fixture(name="build")
def fixture_build() -> Build:
    """The hand-made history builder (see ``build_history``)."""
    return build_history
