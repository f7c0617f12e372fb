"""The set checker: lost, unexpected, duplicated and recovered elements.

Rules: a pure function over a history; no IO, no global state. Each key is
an independent set. Operations: ``add`` (value: the element) and ``read``
(value: the list read). Elements are compared as canonical JSON.

Definitions, per key:

- final reads: ``ok`` reads invoked after the last acknowledged (``ok``) add
  completed; each must contain every acknowledged element.
- lost: acknowledged elements missing from some final read.
- unexpected: elements some read returned that no add could have produced
  (never attempted, or every attempt to add it failed).
- duplicated: elements present more than once in one read.
- recovered: elements of info (or pending) adds that some read returned.

Valid iff nothing is lost, unexpected or duplicated; "unknown" when some
element was acknowledged but no final read exists to look for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from experiments.checkers.models import ModelError, by_key, canonical
from experiments.checkers.result import UNKNOWN, CheckResult, Validity, merge_valid
from experiments.history import Json, Op, Operation, client_operations

EXAMPLES: Final = 5
"""How many examples of each anomaly a result lists."""

_KINDS: Final = ("lost", "unexpected", "duplicated", "recovered")


@dataclass(slots=True)
class _Tally:
    """Elements found per anomaly, as (key, element) pairs in order of discovery."""

    found: dict[str, list[tuple[Hashable, Json]]] = field(
        default_factory=lambda: {kind: [] for kind in _KINDS})
    acknowledged: int = 0
    attempted: int = 0
    final_reads: int = 0


def _element_reads(op: Operation) -> list[Json]:
    value = op.value
    if not isinstance(value, list):
        raise ModelError(index=op.invoke.index, field="value",
                         problem=f"a set read returns a list, got {value!r}")
    return value


def _check_key(key: Hashable, ops: Sequence[Operation], tally: _Tally) -> bool:
    """Tally one key's anomalies; returns whether it has a final read (or needs none)."""
    outcomes: dict[str, set[str]] = {}
    originals: dict[str, Json] = {}
    acked_until = -1
    reads: list[tuple[Operation, list[Json]]] = []
    for op in ops:
        if op.f == "add":
            element = canonical(op.value)
            originals.setdefault(element, op.value)
            outcomes.setdefault(element, set()).add(op.type)
            if op.type == "ok" and op.end is not None:
                acked_until = max(acked_until, op.end)
        elif op.f == "read":
            if op.type == "ok":
                reads.append((op, _element_reads(op)))
        else:
            raise ModelError(index=op.invoke.index, field="f",
                             problem=f"the set checker knows add and read, not {op.f!r}")
    acked = [e for e, kinds in outcomes.items() if "ok" in kinds]
    tally.acknowledged += len(acked)
    tally.attempted += len(outcomes)
    seen: set[str] = set()
    final: list[set[str]] = []
    for op, elements in reads:
        canon = [canonical(v) for v in elements]
        for element, value in zip(canon, elements, strict=True):
            originals.setdefault(element, value)
        counts = Counter(canon)
        for element, count in counts.items():
            if count > 1:
                tally.found["duplicated"].append((key, originals[element]))
        seen.update(counts)
        if op.start > acked_until:
            final.append(set(counts))
    tally.final_reads += len(final)
    for element in sorted(seen):
        kinds = outcomes.get(element, set())
        if not kinds - {"fail"}:
            tally.found["unexpected"].append((key, originals[element]))
        elif "ok" not in kinds:
            tally.found["recovered"].append((key, originals[element]))
    lost = [e for e in acked if any(e not in read for read in final)]
    tally.found["lost"].extend((key, originals[e]) for e in lost)
    return bool(final) or not acked


def check_set(history: Sequence[Op]) -> CheckResult:
    """Check a set history (see the module docstring for the definitions).

    Args:
        history: a valid history; nemesis operations are ignored.

    Returns:
        The verdict with counts and a few examples of each anomaly.

    Raises:
        ModelError: an operation other than add/read, or a read value that is
            not a list (bad input).
    """
    tally = _Tally()
    partitions = by_key(client_operations(history))
    unread = [key for key, ops in partitions.items() if not _check_key(key, ops, tally)]
    details: dict[str, Any] = {
        "attempted": tally.attempted,
        "acknowledged": tally.acknowledged,
        "final_reads": tally.final_reads,
    }
    for kind, found in tally.found.items():
        details[f"{kind}_count"] = len(found)
        details[kind] = [{"key": key, "element": element} for key, element in found[:EXAMPLES]]
    bad = [kind for kind in ("lost", "unexpected", "duplicated") if tally.found[kind]]
    verdicts: list[Validity] = [not bad, UNKNOWN if unread else True]
    valid = merge_valid(verdicts)
    lines = tuple(
        f"{kind}: {len(tally.found[kind])} element(s), e.g. "
        + ", ".join(f"{element!r} (key {key})" for key, element in tally.found[kind][:EXAMPLES])
        for kind in _KINDS
        if tally.found[kind]
    )
    if bad:
        summary = ", ".join(f"{len(tally.found[kind])} {kind}" for kind in bad)
    elif unread:
        summary = f"unknown: no read after the last acknowledged add for key(s) {unread}"
        details["unread_keys"] = unread
    else:
        summary = (f"{tally.acknowledged} acknowledged element(s) all present, "
                   f"{len(tally.found['recovered'])} recovered")
    return CheckResult(valid=valid, checker="set", summary=summary, details=details, lines=lines)
