"""Latency percentiles and small summaries for ``chaoslab bench kv``.

Rules: pure functions over numbers (no IO, no clocks). Percentiles use the
nearest-rank definition, so a reported p99 is always a latency that some
operation actually had.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from experiments.errors import LabError


class EmptySample(LabError, ValueError):
    """A statistic was asked of no values (the caller measured nothing)."""


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence.

    Args:
        ordered: the values, sorted ascending.
        q: the percentile, 0 < q <= 100.

    Returns:
        The smallest value such that at least ``q`` percent of values are <= it.

    Raises:
        EmptySample: if ``ordered`` is empty.
        ValueError: if ``q`` is outside (0, 100].
    """
    if not ordered:
        msg = f"percentile {q} of an empty sample"
        raise EmptySample(msg)
    if not 0 < q <= 100:
        msg = f"percentile must be in (0, 100], got {q}"
        raise ValueError(msg)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median (mean of the two middle values for an even count).

    Raises:
        EmptySample: if ``values`` is empty.
    """
    if not values:
        msg = "median of an empty sample"
        raise EmptySample(msg)
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencySummary:
    """Latency of the successful operations of one measurement (milliseconds).

    Attributes:
        count: how many latencies were summarised.
        p50_ms: nearest-rank median.
        p99_ms: nearest-rank 99th percentile.
        max_ms: the slowest operation.
    """

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def summarize_ns(latencies_ns: Sequence[int]) -> LatencySummary | None:
    """Summarise latencies given in nanoseconds; ``None`` when there are none."""
    if not latencies_ns:
        return None
    ordered = sorted(latencies_ns)
    return LatencySummary(
        count=len(ordered),
        p50_ms=percentile(ordered, 50) / 1e6,
        p99_ms=percentile(ordered, 99) / 1e6,
        max_ms=ordered[-1] / 1e6,
    )
