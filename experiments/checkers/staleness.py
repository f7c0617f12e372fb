"""Staleness of reads, as Bailis et al.'s PBS measures it: versions and time behind.

Rules: a pure function over a history with unique written values (see
``experiments.checkers.accesses``); no IO, no global state.

For each ``ok`` read of key ``x`` that began at time ``s`` and returned ``u``:

- *committed before the read*: the acknowledged writes (and cas) of ``x``
  whose ``ok`` completion came before ``s``. The completion is the commit
  bound: the write was certainly durable and visible to a linearizable reader
  by then (it may have committed earlier; the history does not say when);
- *certainly newer than u*: a write invoked after ``u`` was certainly in
  place: after ``u``'s write completed (for a write whose outcome was
  unknown, after the first operation that observed ``u`` completed); every
  write is newer than the initial null. Writes concurrent with ``u``'s may
  have been ordered either way and are not counted;
- **versions behind**: how many committed writes are certainly newer than
  ``u`` (PBS's k-staleness, less one: 0 is a fresh read);
- **time behind**: for a stale read, ``s`` minus the commit of the oldest
  version it missed: how long a newer value had been committed when the read
  began (PBS's t-visibility).

These are conservative: concurrency is never counted as staleness, so a
linearizable history has no stale read. A read is *stale* when it is more
than ``max_versions`` versions behind (default 0); the verdict is False when
some read is. Reads of a value written twice cannot be placed and are left
out (counted as ``undecided``), and so are reads of a value nobody wrote
(``phantoms``). Figures: the stale rate, and nearest-rank p50 / p99 / max of
versions and milliseconds behind, over all decided reads and over stale ones.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from experiments.checkers.accesses import Access, register_accesses
from experiments.checkers.models import NULL
from experiments.checkers.result import CheckResult, Validity
from experiments.history import Op

STALENESS: Final = "staleness"
EXAMPLES: Final = 5
"""How many of the stalest reads a result lists."""

__all__ = ["STALENESS", "ReadStaleness", "check_staleness", "percentile", "read_staleness"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadStaleness:
    """How far behind one read was.

    Attributes:
        index: the read's history index.
        process: its process.
        key: its key (canonical JSON).
        value: what it returned (canonical JSON).
        versions: committed versions certainly newer than the value read.
        ms: how long the oldest of them had been committed when the read began.
    """

    index: int
    process: int
    key: str
    value: str
    versions: int
    ms: float


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence (0 < q <= 100)."""
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


class _Fenwick:
    """Counts and minimums over positions 1..n, both updated by point insertions."""

    def __init__(self, n: int) -> None:
        self._count = [0] * (n + 1)
        self._least = [math.inf] * (n + 1)

    def insert(self, position: int, value: float) -> None:
        while position < len(self._count):
            self._count[position] += 1
            self._least[position] = min(self._least[position], value)
            position += position & -position

    def prefix(self, position: int) -> tuple[int, float]:
        """(how many, the least value) inserted at positions 1..position."""
        count, least = 0, math.inf
        while position > 0:
            count += self._count[position]
            least = min(least, self._least[position])
            position -= position & -position
        return count, least


def _key_staleness(writes: Sequence[Access], reads: Sequence[Access],
                   visible: dict[str, int]) -> list[ReadStaleness]:
    """One key: for each read, count committed writes invoked after its value was in place.

    Reads are visited by start time while writes are inserted by completion,
    keyed by their invocation rank counted from the latest (so "invoked after
    t" is a prefix).
    """
    committed = sorted((w.op.end or 0, w.op.start) for w in writes)
    starts = sorted({start for _, start in committed}, reverse=True)
    rank = {start: n + 1 for n, start in enumerate(starts)}
    descending = [-start for start in starts]
    tree = _Fenwick(len(starts))
    found: list[ReadStaleness] = []
    k = 0
    for read in sorted(reads, key=lambda r: r.op.start):
        began = read.op.start
        while k < len(committed) and committed[k][0] < began:
            tree.insert(rank[committed[k][1]], committed[k][0])
            k += 1
        value = read.observes or NULL
        since = visible.get(value, -1)
        newer = bisect.bisect_left(descending, -since)  # starts > since: the first ranks
        count, oldest = tree.prefix(newer)
        found.append(ReadStaleness(
            index=read.index, process=read.process, key=read.key, value=value, versions=count,
            ms=0.0 if count == 0 else (began - oldest) / 1e6))
    return found


def read_staleness(history: Sequence[Op]) -> tuple[list[ReadStaleness], int, int]:
    """Each decided read's staleness (see the module docstring).

    Args:
        history: a valid register history with unique written values.

    Returns:
        The reads' staleness in history order, how many reads were left out
        as undecided (a value written twice), and how many were phantoms.

    Raises:
        ModelError: an operation a register cannot interpret (bad input).
    """
    accs = register_accesses(history)
    phantoms = {a.index for a in accs.phantoms}
    visible: dict[str, dict[str, int]] = {}  # key -> value -> when it was surely in place
    for a in accs.accesses:
        if a.writes is not None and a.acknowledged and a.op.end is not None:
            visible.setdefault(a.key, {})[a.writes] = a.op.end
    for a in accs.accesses:  # an info write's value was in place once someone had seen it
        source = accs.source(a)
        if source is not None and source.writes is not None and not source.acknowledged \
                and a.op.end is not None:
            mine = visible.setdefault(a.key, {})
            mine[source.writes] = min(mine.get(source.writes, a.op.end), a.op.end)
    keys: dict[str, tuple[list[Access], list[Access]]] = {}
    undecided = 0
    for a in accs.accesses:
        writes, reads = keys.setdefault(a.key, ([], []))
        if a.writes is not None and a.acknowledged:
            writes.append(a)
        if a.op.f == "read" and a.index not in phantoms:
            if (a.key, a.observes) in accs.ambiguous:
                undecided += 1
            else:
                reads.append(a)
    found: list[ReadStaleness] = []
    for key, (writes, reads) in keys.items():
        found += _key_staleness(writes, reads, visible.get(key, {}))
    found.sort(key=lambda r: r.index)
    return found, undecided, len([a for a in accs.phantoms if a.op.f == "read"])


def _figures(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {"p50": percentile(ordered, 50), "p99": percentile(ordered, 99), "max": ordered[-1]}


def check_staleness(history: Sequence[Op], *, max_versions: int = 0) -> CheckResult:
    """Measure how stale reads were; the verdict is False when one was too stale.

    Args:
        history: a valid register history with unique written values.
        max_versions: how many versions behind a read may be and still count
            as fresh (0: only the latest committed version, or a newer one).

    Returns:
        Figures in the details (``reads``, ``stale_reads``, ``stale_rate``,
        ``versions_behind`` and ``ms_behind`` as p50/p99/max over all decided
        reads, ``stale_ms_behind`` over the stale ones) and the stalest reads.

    Raises:
        ModelError: an operation a register cannot interpret (bad input).
    """
    found, undecided, phantoms = read_staleness(history)
    stale = [r for r in found if r.versions > max_versions]
    stalest = sorted(stale, key=lambda r: (-r.versions, -r.ms, r.index))[:EXAMPLES]
    details: dict[str, Any] = {
        "reads": len(found), "stale_reads": len(stale),
        "stale_rate": len(stale) / len(found) if found else 0.0,
        "max_versions": max_versions, "undecided": undecided, "phantoms": phantoms,
        "versions_behind": _figures([r.versions for r in found]),
        "ms_behind": _figures([r.ms for r in found]),
        "stale_ms_behind": _figures([r.ms for r in stale]),
        "stalest": [{"index": r.index, "process": r.process, "key": r.key, "value": r.value,
                     "versions": r.versions, "ms": r.ms} for r in stalest],
        "ops": sorted(r.index for r in stale),
    }
    lines = tuple(f"op {r.index} (process {r.process}) read {r.value} from key {r.key}: "
                  f"{r.versions} version(s), {r.ms:.3f} ms behind" for r in stalest)
    valid: Validity = not stale
    if stale:
        summary = (f"{len(stale)} of {len(found)} read(s) stale ({len(stale) / len(found):.2%}), "
                   f"worst {stalest[0].versions} version(s) / "
                   f"{max(r.ms for r in stale):.3f} ms behind")
    else:
        summary = f"no stale read among {len(found)} read(s)"
    return CheckResult(valid=valid, checker=STALENESS, summary=summary, details=details,
                       lines=lines)
