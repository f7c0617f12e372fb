"""Causal consistency of registers, across keys: causal+ (causal with convergent conflicts).

Rules: a pure function over a history with unique written values (see
``experiments.checkers.accesses``); no IO, no global state.

Definition checked (causal convergence, "CCv" in Bouajjani et al., "On
verifying causal consistency", 2017; COPS's causal+): *happens-before* is the
transitive closure of

- process order: each process's acknowledged operations in the order it
  issued them (an info operation that took effect comes after its process's
  earlier operations, but its process did not wait for it, so nothing of its
  process comes after it by this rule), and
- reads-from: the operation that wrote a value comes before every operation
  that observed it (a cas observes ``old``, then writes ``new``).

The history is causally consistent when happens-before has no cycle and some
total *arbitration* order of each key's writes, starting with the initial
null and extending happens-before, makes every observation return the latest
write in arbitration order among the writes to its key that happen before it
(its causal past). Replicas may apply concurrent writes in any order but end
up agreeing, the way last-writer-wins on timestamps does.

How it is decided, exactly: a vector clock per operation gives its causal
past; for an observation of ``v`` on key ``x`` written by ``w``, each process's
latest write to ``x`` in the causal past (and each info write that took effect
there) must come before ``w`` in arbitration. Together with happens-before and
"null first", these are "a before b" constraints; they can be met iff they
have no cycle, and a cycle names the operations of a violation. Patterns it
catches: a read of a value from the future of its own process, a read of null
(or of an older version) after a write to that key happened before it
(causally stale), a write seen before the writes that led to it across keys.

Causal consistency implies the four session guarantees; sequential
consistency and linearizability imply it. What a register history cannot
decide: a read of a value written twice (or of a written null) is left out
(no reads-from edge for it) and makes the verdict "unknown" when nothing
else is found; a read of a value nobody wrote (a phantom) is a violation. A
cas that failed with "mismatch" is not used.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from experiments.checkers.accesses import Access, RegisterAccesses, register_accesses
from experiments.checkers.constraints import Constraints, Reason, Step
from experiments.checkers.result import UNKNOWN, CheckResult, Validity
from experiments.history import Op

CAUSAL: Final = "causal"

__all__ = ["CAUSAL", "check_causal"]


def _init(key: str) -> Hashable:
    """The node standing for a key's initial null."""
    return ("init", key)


@dataclass(slots=True)
class _Lanes:
    """Process lanes (acknowledged operations in order) and ghosts (info ones that took
    effect), with each access's place."""

    lane_of: dict[int, int] = field(default_factory=dict)  # access index -> lane
    position: dict[int, int] = field(default_factory=dict)  # access index -> 1-based place
    ghost_of: dict[int, int] = field(default_factory=dict)  # access index -> ghost number
    previous: dict[int, Access] = field(default_factory=dict)  # access index -> po-predecessor
    lanes: int = 0


def _lanes(accesses: Sequence[Access]) -> _Lanes:
    result = _Lanes()
    lane_ids: dict[int, int] = {}
    last: dict[int, Access] = {}
    for a in accesses:
        before = last.get(a.process)
        if before is not None:
            result.previous[a.index] = before
        if not a.acknowledged:
            result.ghost_of[a.index] = len(result.ghost_of)
            continue
        lane = lane_ids.setdefault(a.process, len(lane_ids))
        result.lane_of[a.index] = lane
        result.position[a.index] = result.position[before.index] + 1 if before else 1
        last[a.process] = a
    result.lanes = len(lane_ids)
    return result


def _happens_before(accs: RegisterAccesses, lanes: _Lanes) -> Constraints:
    """Process order and reads-from edges (and null before every write of its key)."""
    hb = Constraints()
    for a in accs.accesses:
        hb.node(a.index)
        before = lanes.previous.get(a.index)
        if before is not None:
            hb.add(before.index, a.index, Reason(
                rule="process order", text=f"process {a.process} ran op {before.index} "
                                           f"before op {a.index}", ops=(before.index, a.index)))
        source = accs.source(a)
        if source is not None:
            hb.add(source.index, a.index, Reason(
                rule="reads from", text=f"op {a.index} (process {a.process}) read "
                                        f"{a.observes} written by op {source.index}",
                ops=(source.index, a.index)))
    return hb


@dataclass(slots=True)
class _KeyWrites:
    """One key's writers: per lane, their places and accesses; and the ghosts' bitmask."""

    places: dict[int, list[int]] = field(default_factory=dict)
    writers: dict[int, list[Access]] = field(default_factory=dict)
    ghosts: int = 0
    ghost_writers: dict[int, Access] = field(default_factory=dict)


def _writes_by_key(accesses: Sequence[Access], lanes: _Lanes) -> dict[str, _KeyWrites]:
    keys: dict[str, _KeyWrites] = {}
    for a in accesses:
        if a.writes is None:
            continue
        kw = keys.setdefault(a.key, _KeyWrites())
        ghost = lanes.ghost_of.get(a.index)
        if ghost is not None:
            kw.ghosts |= 1 << ghost
            kw.ghost_writers[ghost] = a
        else:
            lane = lanes.lane_of[a.index]
            kw.places.setdefault(lane, []).append(lanes.position[a.index])
            kw.writers.setdefault(lane, []).append(a)
    return keys


def _arbitration(accs: RegisterAccesses, lanes: _Lanes, order: Sequence[Hashable],
                 constraints: Constraints) -> None:
    """Add, for each observation, "every write to its key in its causal past comes before
    the write it read" (vector clocks over process lanes, bitmasks over ghosts)."""
    by_index = {a.index: a for a in accs.accesses}
    writes = _writes_by_key(accs.accesses, lanes)
    zero = [0] * lanes.lanes
    clocks: dict[int, tuple[list[int], int]] = {}
    for node in order:
        a = by_index.get(node) if isinstance(node, int) else None
        if a is None:
            continue
        clock, ghosts = zero, 0
        for before in (lanes.previous.get(a.index), accs.source(a)):
            if before is not None:
                other, other_ghosts = clocks[before.index]
                clock = list(map(max, clock, other)) if clock is not zero else other
                ghosts |= other_ghosts
        if a.observes is not None:
            source = accs.source(a)
            _observation(a, accs, writes.get(a.key), (clock, ghosts),
                         None if source is None else clocks[source.index], constraints)
        lane = lanes.lane_of.get(a.index)
        if lane is not None:
            clock = list(clock)
            clock[lane] = lanes.position[a.index]
        else:
            ghosts |= 1 << lanes.ghost_of[a.index]
        clocks[a.index] = (clock, ghosts)


def _observation(a: Access, accs: RegisterAccesses, kw: _KeyWrites | None,
                 past: tuple[list[int], int], known: tuple[list[int], int] | None,
                 constraints: Constraints) -> None:
    """For an observation with causal past ``past`` (clock, ghosts) of a value whose writer
    had the causal past ``known``: each latest write in ``past`` not already in ``known``
    (which happens-before implies) must come before the writer."""
    if kw is None or (a.key, a.observes) in accs.ambiguous:
        return
    source = accs.source(a)
    target: Hashable = _init(a.key) if source is None else source.index
    clock, ghosts = past
    implied, implied_ghosts = ([0] * len(clock), 0) if known is None else known
    visible: list[Access] = []
    for lane, places in kw.places.items():
        k = bisect.bisect_right(places, clock[lane]) - 1
        if k >= 0 and places[k] > implied[lane]:
            visible.append(kw.writers[lane][k])
    mask = ghosts & kw.ghosts & ~implied_ghosts
    while mask:
        bit = mask & -mask
        visible.append(kw.ghost_writers[bit.bit_length() - 1])
        mask ^= bit
    seen = "null" if source is None else f"{a.observes} from op {source.index}"
    for w in visible:
        if w is not source and not constraints.has(w.index, target):
            constraints.add(w.index, target, Reason(
                rule="arbitration",
                text=f"op {w.index} (wrote {w.writes}) happened before op {a.index} "
                     f"(process {a.process}), which read {seen}: that write must be the later",
                ops=(w.index, a.index) if source is None else (w.index, a.index, source.index)))


def _null_first(accs: RegisterAccesses, constraints: Constraints) -> None:
    for a in accs.accesses:
        if a.writes is not None:
            constraints.add(_init(a.key), a.index, Reason(
                rule="initial value", text=f"null is the first version of key {a.key}; "
                                           f"op {a.index} wrote {a.writes}", ops=(a.index,)))


_CAUSAL_RULES: Final = frozenset({"process order", "reads from"})


def _explained(cycle: Sequence[Step], graph: Constraints) -> list[Reason]:
    """The cycle's reasons, each "happened before" followed by the chain that shows it."""
    reasons: list[Reason] = []
    for step in cycle:
        reasons.append(step.reason)
        if step.reason.rule == "arbitration":
            writer, observer = step.reason.ops[0], step.reason.ops[1]
            reasons += [Reason(rule="  because", text=f"{s.reason.rule}: {s.reason.text}",
                               ops=s.reason.ops)
                        for s in graph.path(writer, observer, _CAUSAL_RULES)]
    return reasons


def _report(cycle: Sequence[Step] | None, accs: RegisterAccesses, graph: Constraints, *,
            processes: int, ghosts: int) -> CheckResult:
    phantoms = [{"index": a.index, "process": a.process, "key": a.key, "value": a.observes}
                for a in accs.phantoms]
    details: dict[str, Any] = {"operations": len(accs.accesses), "processes": processes,
                               "unacknowledged_effects": ghosts, "constraints": len(graph)}
    lines: list[str] = []
    ops: set[int] = {a.index for a in accs.phantoms}
    if cycle is not None:
        reasons = _explained(cycle, graph)
        ops |= {i for r in reasons for i in r.ops}
        details["violation"] = {"cycle": [r.to_json() for r in reasons]}
        lines += ["no causal order explains these (a cycle):",
                  *(f"  {r.rule}: {r.text}" for r in reasons)]
    if phantoms:
        details["phantoms"] = phantoms
        lines += [f"op {p['index']} (process {p['process']}) read {p['value']} from key "
                  f"{p['key']}, a value nobody wrote" for p in phantoms[:5]]
    details["ops"] = sorted(ops)
    ambiguous = accs.ambiguous_keys()
    valid: Validity = True
    if cycle is not None or phantoms:
        valid = False
        summary = "not causal: " + ", ".join(
            ([f"a cycle through {len(cycle)} constraint(s)"] if cycle else [])
            + ([f"{len(phantoms)} read(s) of values nobody wrote"] if phantoms else []))
    elif ambiguous:
        valid = UNKNOWN
        details["ambiguous_keys"] = ambiguous
        summary = (f"unknown: key(s) {', '.join(ambiguous)} have a value written more than "
                   f"once (or null written): these checkers need unique values")
    else:
        summary = f"causal ({len(accs.accesses)} operations, {processes} process(es))"
    return CheckResult(valid=valid, checker=CAUSAL, summary=summary, details=details,
                       lines=tuple(lines))


def check_causal(history: Sequence[Op]) -> CheckResult:
    """Check causal consistency (causal+, see the module docstring) across all keys.

    Args:
        history: a valid register history with unique written values.

    Returns:
        The verdict; a violation lists the cycle of constraints and the
        operations (history indexes) behind it.

    Raises:
        ModelError: an operation a register cannot interpret (bad input).
    """
    accs = register_accesses(history)
    lanes = _lanes(accs.accesses)
    hb = _happens_before(accs, lanes)
    order, cycle = hb.order()
    processes = lanes.lanes
    if order is None:
        return _report(cycle, accs, hb, processes=processes, ghosts=len(lanes.ghost_of))
    constraints = hb  # happens-before, then what arbitration must meet
    _null_first(accs, constraints)
    _arbitration(accs, lanes, order, constraints)
    return _report(constraints.cycle(), accs, constraints, processes=processes,
                   ghosts=len(lanes.ghost_of))
