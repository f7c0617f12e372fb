"""Sequential specifications for the linearizability search: register and set.

Rules: pure functions over immutable values, no IO, no global state. A model
says how a history splits into independent parts (``partition``), which
operations the search must place and within which window (``prepare``), how
one operation steps a state (``step``, never mutating it), and which required
operation no order could explain, if any (``unexplained``, a shortcut). States are
canonical JSON text (or frozensets of it), so equal values compare and hash
equal and ``1`` differs from ``true`` and ``1.0``.

How completions become candidates (the register; the set is analogous):

- ``ok``: required, placed between invocation and completion.
- ``fail``: took no effect, dropped; except a cas failing with
  ``"error": "mismatch"``: required, it succeeds iff the state differs from
  ``old`` and changes nothing (an observation that the value was not old).
- ``info`` (or pending): optional, may be placed after its invocation or not
  at all. An info read constrains nothing and is dropped. An optional write
  of ``v`` can only matter if a later-placed operation observes ``v`` (a read
  of ``v``, a cas from ``v``, a mismatch-cas from something else); placing it
  after every such observer could have completed is the same as never
  placing it. So its window ends at the latest end among observers of ``v``
  (found as a fixpoint, since optional cas ops observe too), and an optional
  op no observer can follow is dropped.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeAlias, TypeVar

from experiments.errors import BadInput
from experiments.history import Json, Operation

S = TypeVar("S")
I = TypeVar("I")  # noqa: E741 - the conventional name for a model's input type

Key: TypeAlias = Hashable


class ModelError(BadInput, ValueError):
    """An operation does not fit the model (unknown f, malformed value): bad input.

    Attributes:
        index: the history index of the operation's invocation.
        field: the field at fault.
        problem: what was wrong.
    """

    def __init__(self, *, index: int, field: str, problem: str) -> None:
        self.index = index
        self.field = field
        self.problem = problem
        super().__init__(f"op {index}: field {field!r}: {problem}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate(Generic[I]):
    """An operation the search may (optional) or must (required) linearize.

    Attributes:
        op: the operation it stands for.
        input: the model's compact form of it, given to ``step``.
        start: the earliest linearization point (ns).
        end: the latest linearization point (ns; for optional ones, the window end).
        required: must be linearized (else it may also be left out).
        blind: succeeds in every state, with a result that ignores the state.
        readonly: leaves the state as it is whenever it is legal (a read).
    """

    op: Operation
    input: I
    start: int
    end: int
    required: bool
    blind: bool
    readonly: bool


class Model(Protocol[S, I]):
    """A sequential specification, as a few pure functions."""

    @property
    def name(self) -> str:
        """The model's name (``register``, ``set``)."""
        ...

    def init(self) -> S:
        """The initial state."""
        ...

    def partition(self, ops: Sequence[Operation]) -> Mapping[Key, Sequence[Operation]]:
        """Split client operations into independent histories (e.g. by key)."""
        ...

    def prepare(self, ops: Sequence[Operation]) -> list[Candidate[I]]:
        """The candidates of one partition (raises ModelError on bad input)."""
        ...

    def step(self, state: S, inp: I) -> tuple[bool, S]:
        """Apply one operation: (whether it is legal in ``state``, the next state)."""
        ...

    def unexplained(self, cands: Sequence[Candidate[I]]) -> tuple[Candidate[I], ...]:
        """Required candidates no order could make legal (e.g. a read of a value never
        written) and what rules them out, found without searching; empty if none."""
        ...

    def describe_state(self, state: S) -> str:
        """A state, readably."""
        ...


def canonical(value: Json) -> str:
    """A JSON value's canonical text: equal JSON values give equal strings.

    Args:
        value: a decoded JSON value.

    Returns:
        Compact JSON with sorted object keys.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def by_key(ops: Sequence[Operation]) -> dict[Key, list[Operation]]:
    """Group operations by key, keys in order of first appearance.

    Args:
        ops: client operations.

    Returns:
        key -> that key's operations in invocation order.
    """
    groups: dict[Key, list[Operation]] = {}
    for op in ops:
        groups.setdefault(canonical(op.key), []).append(op)
    return groups


def _end_or_fail(op: Operation) -> int:
    end = op.end
    if end is None:  # pragma: no cover - callers only pass ok/fail operations
        msg = "a required operation has an end time"
        raise AssertionError(msg)
    return end


READ: Final = 0
WRITE: Final = 1
CAS: Final = 2
MISMATCH: Final = 3
RegisterInput: TypeAlias = tuple[int, str, str]
"""(kind, a, b): READ v / WRITE v / CAS old new / MISMATCH old, as canonical JSON."""

NULL: Final = canonical(None)


def register_input(op: Operation) -> RegisterInput | None:
    """The compact input for one register op, or None when it constrains nothing.

    Raises:
        ModelError: an f other than read/write/cas, or a cas value not [old, new].
    """
    kind = op.type
    if op.f == "read":
        return (READ, canonical(op.value), "") if kind == "ok" else None
    if op.f == "write":
        return None if kind == "fail" else (WRITE, canonical(op.value), "")
    if op.f == "cas":
        value = op.invoke.value
        if not (isinstance(value, list) and len(value) == 2):
            raise ModelError(index=op.invoke.index, field="value",
                             problem=f"a cas value is [old, new], got {value!r}")
        old, new = canonical(value[0]), canonical(value[1])
        if kind == "fail":
            return (MISMATCH, old, "") if op.error == "mismatch" else None
        return (CAS, old, new)
    raise ModelError(index=op.invoke.index, field="f",
                     problem=f"the register model knows read, write and cas, not {op.f!r}")


class _Observers:
    """When the observers of each value end, for bounding optional windows."""

    def __init__(self, required: Sequence[tuple[RegisterInput, int]]) -> None:
        self._last: dict[str, int] = {}
        mismatches: dict[str, int] = {}
        for (kind, a, _), end in required:
            if kind in (READ, CAS):
                self._last[a] = max(end, self._last.get(a, end))
            elif kind == MISMATCH:
                mismatches[a] = max(end, mismatches.get(a, end))
        ranked = sorted(mismatches.items(), key=lambda item: item[1], reverse=True)
        self._mismatch_top = ranked[:2]

    def last_end(self, value: str) -> int | None:
        """The latest end of a required op that succeeds in ``value`` without writing."""
        best = self._last.get(value)
        for old, end in self._mismatch_top:
            if old != value:
                best = end if best is None else max(best, end)
                break
        return best


def optional_windows(
    required: Sequence[tuple[RegisterInput, int]],
    optional: Sequence[tuple[RegisterInput, int]],
) -> list[int | None]:
    """Each optional op's window end (None: no observer can follow it: drop it).

    ``required`` pairs each required input with its end, ``optional`` each
    optional input with its start (all zero: which optional ops anything could
    observe at all, regardless of time).
    """
    observers = _Observers(required)
    effect = [b if kind == CAS else a for (kind, a, b), _ in optional]
    values = set(effect) | {a for (kind, a, _), _ in optional if kind == CAS}
    horizon: dict[str, int | None] = {v: observers.last_end(v) for v in values}
    for _ in range(len(optional) + 1):  # max-propagation converges in at most this many rounds
        changed = False
        for ((kind, old, new), start) in optional:
            if kind != CAS:
                continue
            reach = horizon[new]
            candidate = start if reach is None else max(start, reach)
            current = horizon[old]
            if current is None or candidate > current:
                horizon[old] = candidate
                changed = True
        if not changed:
            break
    windows: list[int | None] = []
    for value, (_, start) in zip(effect, optional, strict=True):
        reach = horizon[value]
        windows.append(reach if reach is not None and reach >= start else None)
    return windows


_Ending: TypeAlias = tuple[int, str, int]  # (end, value written, candidate index)


def _earliest_ends(
    changers: Sequence[tuple[int, int, str, int]],
) -> list[tuple[_Ending, _Ending | None]]:
    """For each suffix of ``changers`` (sorted by start): the earliest-ending one, and
    the earliest-ending one that writes a different value."""
    result: list[tuple[_Ending, _Ending | None]] = []
    first: _Ending | None = None
    second: _Ending | None = None
    for _, end, value, i in reversed(changers):
        this = (end, value, i)
        if first is None or end < first[0]:
            if first is not None and first[1] != value:
                second = first
            first = this
        elif value != first[1] and (second is None or end < second[0]):
            second = this
        result.append((first, second))
    result.reverse()
    return result


def is_readonly(inp: RegisterInput) -> bool:
    """Whether a register input leaves the state as it is whenever it is legal."""
    kind, a, b = inp
    return kind in (READ, MISMATCH) or (kind == CAS and a == b)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterModel:
    """A read/write/cas register per key, starting at null."""

    name: str = "register"

    def init(self) -> str:
        """The initial state: null."""
        return NULL

    def partition(self, ops: Sequence[Operation]) -> Mapping[Key, Sequence[Operation]]:
        """Registers are independent per key."""
        return by_key(ops)

    def prepare(self, ops: Sequence[Operation]) -> list[Candidate[RegisterInput]]:
        """Required and optional candidates of one key (see the module docstring).

        Raises:
            ModelError: unknown f, or a cas value that is not [old, new].
        """
        required: list[tuple[Operation, RegisterInput]] = []
        optional: list[tuple[Operation, RegisterInput]] = []
        for op in ops:
            inp = register_input(op)
            if inp is not None:
                (optional if op.type == "info" else required).append((op, inp))
        windows = optional_windows(
            [(inp, _end_or_fail(op)) for op, inp in required],
            [(inp, op.start) for op, inp in optional],
        )
        candidates = [
            Candidate(op=op, input=inp, start=op.start, end=_end_or_fail(op), required=True,
                      blind=inp[0] == WRITE, readonly=is_readonly(inp))
            for op, inp in required
        ]
        candidates += [
            Candidate(op=op, input=inp, start=op.start, end=end, required=False,
                      blind=inp[0] == WRITE, readonly=is_readonly(inp))
            for (op, inp), end in zip(optional, windows, strict=True)
            if end is not None
        ]
        return candidates

    def unexplained(
        self, cands: Sequence[Candidate[RegisterInput]]
    ) -> tuple[Candidate[RegisterInput], ...]:
        """A required read (or cas) of ``v`` that no order can explain, and why.

        Either nothing ever produces ``v`` (it is not null and never written),
        or some required write (or cas) of another value certainly comes after
        every producer of ``v`` and before the read: a stale read.
        """
        last_made: dict[str, int] = {NULL: -1}  # latest end of anything producing a value
        for c in cands:
            kind, a, b = c.input
            if kind in (WRITE, CAS):
                made = b if kind == CAS else a
                last_made[made] = max(last_made.get(made, -1), c.end)
        changers = sorted(
            (c.start, c.end, c.input[2] if c.input[0] == CAS else c.input[1], i)
            for i, c in enumerate(cands) if c.required and c.input[0] in (WRITE, CAS)
        )
        starts = [start for start, _, _, _ in changers]
        earliest = _earliest_ends(changers)
        for c in cands:
            if not c.required or c.input[0] not in (READ, CAS):
                continue
            value = c.input[1]
            last = last_made.get(value)
            if last is None:
                return (c,)
            k = bisect.bisect_right(starts, last)
            if k == len(changers):
                continue
            first, second = earliest[k]
            pick = first if first[1] != value else second
            if pick is not None and pick[0] < c.start:
                return (c, cands[pick[2]])
        return ()

    def step(self, state: str, inp: RegisterInput) -> tuple[bool, str]:
        """Apply read, write, cas or a mismatch observation."""
        kind, a, b = inp
        if kind == WRITE:
            return True, a
        if kind == READ:
            return state == a, state
        if kind == CAS:
            return (True, b) if state == a else (False, state)
        return state != a, state

    def describe_state(self, state: str) -> str:
        """The register's value as JSON."""
        return state


SetInput: TypeAlias = tuple[bool, frozenset[str]]
"""(is_add, elements): an add of one element, or a read of exactly these."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetModel:
    """A grow-only set per key, starting empty: ``add`` (element) and ``read`` (list)."""

    name: str = "set"

    def init(self) -> frozenset[str]:
        """The initial state: empty."""
        return frozenset()

    def partition(self, ops: Sequence[Operation]) -> Mapping[Key, Sequence[Operation]]:
        """Sets are independent per key."""
        return by_key(ops)

    def prepare(self, ops: Sequence[Operation]) -> list[Candidate[SetInput]]:
        """Reads and adds; an info add can only matter before a read that contains it.

        Raises:
            ModelError: unknown f, or a read whose value is not a list.
        """
        reads: list[tuple[Operation, SetInput]] = []
        adds: list[tuple[Operation, SetInput]] = []
        for op in ops:
            if op.f == "read":
                if op.type != "ok":
                    continue
                if not isinstance(op.value, list):
                    raise ModelError(index=op.invoke.index, field="value",
                                     problem=f"a set read returns a list, got {op.value!r}")
                reads.append((op, (False, frozenset(canonical(v) for v in op.value))))
            elif op.f == "add":
                if op.type != "fail":
                    adds.append((op, (True, frozenset({canonical(op.value)}))))
            else:
                raise ModelError(index=op.invoke.index, field="f",
                                 problem=f"the set model knows add and read, not {op.f!r}")
        seen_until: dict[str, int] = {}
        for op, (_, elements) in reads:
            for element in elements:
                seen_until[element] = max(_end_or_fail(op), seen_until.get(element, 0))
        candidates = [
            Candidate(op=op, input=inp, start=op.start, end=_end_or_fail(op), required=True,
                      blind=False, readonly=True)
            for op, inp in reads
        ]
        for op, inp in adds:
            if op.type == "ok":
                candidates.append(Candidate(op=op, input=inp, start=op.start,
                                            end=_end_or_fail(op), required=True, blind=False,
                                            readonly=False))
                continue
            (element,) = inp[1]
            until = seen_until.get(element)
            if until is not None and until >= op.start:
                candidates.append(Candidate(op=op, input=inp, start=op.start, end=until,
                                            required=False, blind=False, readonly=False))
        return candidates

    def unexplained(
        self, cands: Sequence[Candidate[SetInput]]
    ) -> tuple[Candidate[SetInput], ...]:
        """A read containing an element no add (ok or info) ever tried to add."""
        added = {e for c in cands if c.input[0] for e in c.input[1]}
        for c in cands:
            if not c.input[0] and not c.input[1] <= added:
                return (c,)
        return ()

    def step(self, state: frozenset[str], inp: SetInput) -> tuple[bool, frozenset[str]]:
        """Add an element, or check that a read saw exactly the state."""
        is_add, elements = inp
        if is_add:
            return True, state | elements
        return state == elements, state

    def describe_state(self, state: frozenset[str]) -> str:
        """The set's elements as a sorted JSON list."""
        return "[" + ",".join(sorted(state)) + "]"


def describe_operation(op: Operation) -> str:
    """One readable line: process, f, key, value, outcome and times.

    Args:
        op: the operation.

    Returns:
        E.g. ``process 3  cas    x  [1, 2]  fail(mismatch)  [1000 .. 2700]``.
    """
    end = "…" if op.completion is None else str(op.completion.time)
    outcome = op.type + (f"({op.error})" if op.error else "")
    if op.completion is None:
        outcome = "pending"
    return (f"process {op.process!s:>3}  {op.f:<6} {json.dumps(op.key)}  "
            f"{canonical(op.value)}  {outcome}  [{op.start} .. {end}]")

