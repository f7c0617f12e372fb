"""Linearizability: the Wing & Gong / Lowe search with memoization, as in Porcupine.

Rules: a pure function over a history; no IO, no global state. The only
impurity is the injected ``clock`` used for the time budget: when it runs out
(or the memo outgrows ``max_states``) the verdict is ``"unknown"``, never a
guess. Memory is bounded by the budget: the memo only grows while searching,
by at most one entry per step, and the budget is checked every 512 steps.

Before searching, the model may point out a required operation no order
could explain (a read of a value nobody wrote): that is a counterexample
with an empty prefix. Otherwise, per partition (e.g. per key): call and return
events in time order form a doubly linked list (closed intervals: on equal
times a call sorts before a return, so touching operations overlap). Any call
before the first return may be linearized next. From each configuration the
search tries, in order:

1. a forced move: a required read-only operation (a read, a mismatch
   observation) legal in the current state. Placing it now loses nothing (it
   could be moved here from any later position), so no alternative is tried;
2. required candidates; of several with equal inputs only the one whose
   window ends first (swapping two such operations keeps a linearization);
3. when the first return is an optional (info) operation's window end:
   leaving it out;
4. optional candidates (same rule for equal inputs).

After an optional operation, the next one placed must not be a blind write
(else the optional one was pointless); this prunes subsets of unobserved
info writes. A failed configuration is remembered as (required operations
placed, state, that flag) with the set of optional operations still
available: a configuration offering no more options than a failed one fails
too. The longest linearizable prefix seen and the operations that could not
follow it form the counterexample.

The precedence is pluggable (``search_history`` with another ``Order``):
``real_time_links`` is linearizability's; ``experiments.checkers.sequential``
gives each process's order instead, for sequential consistency by this same
search. An order may also rule moves out as doomed (``Links.doomed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeAlias, TypeVar

from experiments.checkers.models import (
    Candidate,
    Model,
    ModelError,
    RegisterModel,
    describe_operation,
)
from experiments.checkers.result import UNKNOWN, CheckResult
from experiments.history import Op, Operation, client_operations

S = TypeVar("S")
I = TypeVar("I")  # noqa: E741 - the conventional name for a model's input type

CHECK_EVERY: Final = 512
"""Search steps between two looks at the clock and the memo size."""

SHOWN_PREFIX: Final = 12
"""How many of the prefix's last operations a counterexample shows."""

__all__ = [
    "LINEARIZABLE",
    "Claim",
    "Counterexample",
    "Links",
    "ModelError",
    "Order",
    "check_linearizable",
    "real_time_links",
    "search_history",
]


_FORCED: Final = 0
"""Phase: look for a required op that is legal and leaves the state as it is."""
_REQUIRED: Final = 1
"""Phase: try required candidates."""
_OPTIONAL: Final = 2
"""Phase: try optional (info) candidates."""
_SKIP: Final = 3
"""A stack frame that left out an optional operation whose window ended."""


_SHORTCUT: Final = (
    "no order can explain the first operation: nothing else produces the value it needs, "
    "or the operation(s) after it certainly replaced that value before it began"
)


class _OutOfBudget(Exception):
    """The time budget or the memo limit ran out (internal: becomes "unknown")."""


@dataclass(slots=True)
class _Budget:
    deadline: float | None
    clock: Callable[[], float]
    max_states: int | None

    def check(self, states: int) -> None:
        if self.deadline is not None and self.clock() > self.deadline:
            msg = "time budget exhausted"
            raise _OutOfBudget(msg)
        if self.max_states is not None and states > self.max_states:
            msg = f"more than {self.max_states} states explored"
            raise _OutOfBudget(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class Counterexample:
    """Why a partition is not linearizable.

    Attributes:
        key: the partition (canonical JSON of the key).
        prefix: the longest linearizable prefix found, in linearization order.
        state: the model state after that prefix, readably.
        failing: operations that could not follow it: the one whose completion
            forced the search back, and other required candidates illegal there.
        reason: set when the model ruled the first failing operation out
            without a search (the prefix is then empty); says why.
        states: the model state after each prefix operation, readably (the
            last one is ``state``); empty when the prefix is.
        legal: for each failing operation, whether the model allows it in
            ``state`` (a legal one fails because every continuation after it
            does); empty with ``reason``.
    """

    key: Hashable
    prefix: tuple[Operation, ...]
    state: str
    failing: tuple[Operation, ...]
    reason: str | None = None
    states: tuple[str, ...] = ()
    legal: tuple[bool, ...] = ()


@dataclass(slots=True)
class _Verdict:
    linearizable: bool
    states: int
    counterexample: Counterexample | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Links:
    """The precedence the search walks: which candidates may be placed next.

    A linked list of events: ``2 * i`` is candidate i's call, ``2 * i + 1``
    its return, ``2 * m`` the head. The candidates whose calls come before
    the first return may be placed next; ``lift(i)`` takes candidate i out
    once placed and ``unlift(i)`` exactly undoes it (last lifted, first
    unlifted). A return of ``2 * m + 1`` stands for no candidate: the end of
    an order that has no deadlines.

    Attributes:
        nxt: the next event of each slot (-1: none).
        lift: take a placed candidate's events out.
        unlift: put them back.
        keys: candidates with equal keys are interchangeable (only the one whose
            window ends first is tried); for the real-time order, the inputs. None:
            no two candidates are (nothing to skip, and no time spent looking).
        doomed: given the states before and after a move and the placed set after
            it, whether the move certainly leads nowhere (None: no such rule).
    """

    nxt: list[int]
    lift: Callable[[int], None]
    unlift: Callable[[int], None]
    keys: Sequence[Hashable] | None
    doomed: Callable[[Any, Any, int], bool] | None = None


Order: TypeAlias = Callable[[Sequence[Candidate[Any]], Model[Any, Any]], Links]
"""Builds the precedence of one partition's candidates (real time, or process order)."""


def real_time_links(cands: Sequence[Candidate[Any]], model: Model[Any, Any]) -> Links:
    """Linearizability's precedence: each candidate's window [start, end] in real time.

    Call and return events sorted by time (on equal times a call sorts first,
    so touching windows overlap); lifting a candidate removes both its events.
    """
    del model  # the windows say everything
    m = len(cands)
    events = sorted([(c.start, 0, i) for i, c in enumerate(cands)]
                    + [(c.end, 1, i) for i, c in enumerate(cands)])
    head = 2 * m
    nxt = [-1] * (2 * m + 1)
    prv = [-1] * (2 * m + 1)
    last = head
    for _, kind, i in events:
        entry = 2 * i + kind
        nxt[last] = entry
        prv[entry] = last
        last = entry

    def lift(i: int) -> None:
        for x in (2 * i, 2 * i + 1):
            p, n = prv[x], nxt[x]
            nxt[p] = n
            if n != -1:
                prv[n] = p

    def unlift(i: int) -> None:  # exactly undoes lift(i): the return goes back first
        for x in (2 * i + 1, 2 * i):
            p, n = prv[x], nxt[x]
            nxt[p] = x
            if n != -1:
                prv[n] = x

    return Links(nxt=nxt, lift=lift, unlift=unlift, keys=[c.input for c in cands])


def _without_search(
    key: Hashable, cands: Sequence[Candidate[I]], model: Model[S, I]
) -> _Verdict | None:
    """The verdict when no search is needed: nothing is required, or the model rules an
    operation out on its own (e.g. a read of a value nothing could have written)."""
    if not any(c.required for c in cands):
        return _Verdict(linearizable=True, states=0)
    hopeless = model.unexplained(cands)
    if not hopeless:
        return None
    return _Verdict(linearizable=False, states=0, counterexample=Counterexample(
        key=key, prefix=(), state=model.describe_state(model.init()),
        failing=tuple(c.op for c in hopeless), reason=_SHORTCUT))


class _Memo(Generic[S]):
    """Failed configurations: (required placed, state, tentative) -> the sets of optional
    operations still available (bitsets) from which no linearization exists. Fewer options
    cannot succeed where more failed, so only maximal sets are kept."""

    __slots__ = ("failed", "optmask", "reqmask", "stored")

    def __init__(self, *, reqmask: int, optmask: int) -> None:
        self.reqmask = reqmask
        self.optmask = optmask
        self.failed: dict[tuple[int, S, bool], list[int]] = {}
        self.stored = 0
        """How many option sets are kept (what the memory budget counts)."""

    def dead_end(self, bits: int, state: S, tentative: bool) -> bool:
        """Whether this configuration, or one with more options, already failed."""
        known = self.failed.get((bits & self.reqmask, state, tentative))
        if known is None:
            return False
        avail = self.optmask & ~bits
        return any(not avail & ~other for other in known)

    def remember(self, bits: int, state: S, tentative: bool) -> None:
        """Record that no linearization exists from this configuration."""
        key = (bits & self.reqmask, state, tentative)
        avail = self.optmask & ~bits
        before = self.failed.get(key, [])
        known = [other for other in before if other & ~avail]
        self.stored += 1 - (len(before) - len(known))
        known.append(avail)
        self.failed[key] = known


def _forced(
    nxt: list[int], head: int, readonly: list[bool], required: list[bool],
    step: Callable[[S, I], tuple[bool, S]], state: S, inputs: Sequence[I],
) -> int:
    """A required read-only operation the state allows now (placing it first changes
    nothing and loses nothing), or -1."""
    e = nxt[head]
    while e != -1 and not e & 1:
        i = e >> 1
        if readonly[i] and required[i] and step(state, inputs[i])[0]:
            return i
        e = nxt[e]
    return -1


Frame = tuple[int, Any, bool, int]
"""A search frame: (operation, state before it, tentative before it, phase)."""


def _refuted(
    key: Hashable, cands: Sequence[Candidate[I]], model: Model[S, I],
    best: tuple[int, list[Frame], S, list[int]], explored: int,
) -> _Verdict:
    """The verdict when the search ran out of choices: the deepest dead end it reached,
    as a counterexample (the prefix placed, the state it left, the operations that could
    not follow and whether the model allowed each there)."""
    _, frames, at, failing = best
    prefix = [f for f, _, _, ph in frames if ph != _SKIP]
    # A frame holds the state before its op: the next frame's is the state after.
    after = [before for _, before, _, _ in frames[1:]] + [at] if frames else []
    step = model.step
    return _Verdict(
        linearizable=False,
        states=explored,
        counterexample=Counterexample(
            key=key,
            prefix=tuple(cands[f].op for f in prefix),
            state=model.describe_state(at),
            failing=tuple(cands[f].op for f in failing),
            states=tuple(model.describe_state(s) for s, (_, _, _, ph)
                         in zip(after, frames, strict=True) if ph != _SKIP),
            legal=tuple(step(at, cands[f].input)[0] for f in failing),
        ),
    )


def _search(
    key: Hashable, cands: Sequence[Candidate[I]], model: Model[S, I], budget: _Budget,
    order: Order = real_time_links,
) -> _Verdict:
    """Search for a linearization of one partition's candidates (or, with another
    order, for a sequential order that respects that precedence)."""
    shortcut = _without_search(key, cands, model)
    if shortcut is not None:
        return shortcut
    m = len(cands)
    remaining = sum(1 for c in cands if c.required)
    links = order(cands, model)
    head = 2 * m
    nxt, lift, unlift, doomed, keys = (links.nxt, links.lift, links.unlift, links.doomed,
                                       links.keys)
    required = [c.required for c in cands]
    required.append(True)  # the end of an order without deadlines (Links) blocks like a required op
    blind = [c.blind for c in cands]
    readonly = [c.readonly for c in cands]
    inputs = [c.input for c in cands]
    masks = [1 << i for i in range(m)]
    ends = [c.end for c in cands]
    step = model.step
    by_phase = {want: {i for i in range(m) if required[i] == want} for want in (True, False)}

    state = model.init()
    bits = 0
    tentative = False
    memo: _Memo[S] = _Memo(
        reqmask=sum(masks[i] for i in range(m) if required[i]),
        optmask=sum(masks[i] for i in range(m) if not required[i]),
    )
    dead_end = memo.dead_end
    explored = 0

    stack: list[tuple[int, S, bool, int]] = []  # (op, state before, tentative before, phase)
    placed = 0
    # The deepest dead end so far: (placed count, frames leading to it, state, failing ops).
    # Frames are copied incrementally: only those above the lowest depth since the last copy.
    best: tuple[int, list[tuple[int, S, bool, int]], S, list[int]] | None = None
    low_water = 0

    entry = nxt[head]
    phase = _FORCED
    steps = 0
    while True:
        steps += 1
        if steps % CHECK_EVERY == 0:
            budget.check(memo.stored)
        target = -1
        new_state = state
        dead = False
        if phase == _FORCED:
            target = _forced(nxt, head, readonly, required, step, state, inputs)
            if target >= 0:
                dead = dead_end(bits | masks[target], state, False)
            else:
                phase = _REQUIRED
        if target < 0:
            if keys is None:
                chosen = by_phase[phase == _REQUIRED]
            else:
                chosen = _representatives(nxt[head], nxt=nxt, ends=ends, inputs=keys,
                                          required=required, want_required=phase == _REQUIRED)
            e = entry
            while e != -1 and not e & 1:
                i = e >> 1
                if i in chosen and not (tentative and blind[i]):
                    ok, new_state = step(state, inputs[i])
                    if ok and doomed is not None and new_state != state:
                        ok = not doomed(state, new_state, bits | masks[i])
                    if ok and not dead_end(bits | masks[i], new_state, not required[i]):
                        target = i
                        break
                e = nxt[e]
            if target < 0:
                i = e >> 1  # e is the first return: that operation's window ends first
                if phase == _REQUIRED:
                    entry = nxt[head]
                    phase = _OPTIONAL
                    if not required[i] and not dead_end(bits | masks[i], state, tentative):
                        target, new_state, phase = i, state, _SKIP  # first, leave it out
                    else:
                        continue
                else:
                    dead = True
                    if required[i] and (best is None or placed > best[0]):
                        frames = [] if best is None else best[1][:low_water]
                        frames += stack[low_water:]
                        low_water = len(stack)
                        best = (placed, frames, state, _failing(
                            i, nxt=nxt, head=head, required=required, inputs=inputs,
                            step=step, state=state))
        if not dead:
            i = target
            config = (bits | masks[i], new_state,
                      tentative if phase == _SKIP else not required[i])
            explored += 1
            stack.append((i, state, tentative, phase))
            lift(i)
            bits, state, tentative = config
            if phase != _SKIP:
                placed += 1
                if required[i]:
                    remaining -= 1
                    if remaining == 0:
                        return _Verdict(linearizable=True, states=explored)
            entry = nxt[head]
            phase = _FORCED
            continue
        while True:  # backtrack to the latest choice with alternatives left
            if not stack:
                assert best is not None  # the first backtrack always follows a required return
                return _refuted(key, cands, model, best, explored)
            memo.remember(bits, state, tentative)
            i, state, tentative, phase = stack.pop()
            low_water = min(low_water, len(stack))
            unlift(i)
            bits ^= masks[i]
            if phase != _SKIP:
                placed -= 1
                remaining += required[i]
            if phase in (_REQUIRED, _OPTIONAL):
                entry = nxt[2 * i]
                break
            if phase == _SKIP:  # left out first; now try placing optional operations
                entry = nxt[head]
                phase = _OPTIONAL
                break


def _representatives(
    first: int,
    *,
    nxt: list[int],
    ends: list[int],
    inputs: Sequence[Hashable],
    required: list[bool],
    want_required: bool,
) -> set[int]:
    """Of the candidates with equal inputs, the one whose window ends first.

    Trying only it loses nothing: if a linearization places another one, b,
    here and this one, a, later (or never, if optional), swapping a and b
    gives another, since b's window contains a's later point.
    """
    best: dict[Hashable, int] = {}
    e = first
    while e != -1 and not e & 1:
        i = e >> 1
        if required[i] == want_required:
            other = best.get(inputs[i])
            if other is None or ends[i] < ends[other]:
                best[inputs[i]] = i
        e = nxt[e]
    return set(best.values())


def _failing(
    blocker: int,
    *,
    nxt: list[int],
    head: int,
    required: list[bool],
    inputs: Sequence[I],
    step: Callable[[S, I], tuple[bool, S]],
    state: S,
) -> list[int]:
    """The blocking operation plus the required candidates illegal in ``state``; when
    the blocker is the end of an order without deadlines, every required candidate."""
    at_end = blocker >= len(inputs)
    failing = [] if at_end else [blocker]
    e = nxt[head]
    while e != -1 and not e & 1:
        i = e >> 1
        if required[i] and i != blocker and (at_end or not step(state, inputs[i])[0]):
            failing.append(i)
        e = nxt[e]
    return failing


def _op_json(op: Operation) -> dict[str, Any]:
    return {"index": op.invoke.index, "process": op.process, "f": op.f, "key": op.key,
            "value": op.value, "type": op.type, "error": op.error, "start": op.start,
            "end": None if op.completion is None else op.completion.time}


def _why(legal: bool, state: str) -> str:
    if legal:
        return f"legal in state {state}, but every order that places it next fails later"
    return f"not legal in state {state}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """What a search establishes, in the words of its results and counterexamples.

    Attributes:
        checker: the result's checker name.
        holds: the property, as in "the history is ...".
        prefix: what the longest prefix found is.
        stuck: what the failing operations cannot be.
        order: the order the prefix is listed in.
    """

    checker: str
    holds: str
    prefix: str
    stuck: str
    order: str


LINEARIZABLE: Final = Claim(checker="linearizable", holds="linearizable",
                            prefix="a linearizable prefix", stuck="cannot be linearized",
                            order="linearization order")


def _explain(cx: Counterexample, claim: Claim = LINEARIZABLE,
             ) -> tuple[dict[str, Any], tuple[str, ...]]:
    shown = cx.prefix[-SHOWN_PREFIX:]
    tail = [_op_json(op) for op in shown]
    for op_json, state in zip(tail, cx.states[-len(shown):] if shown else (), strict=False):
        op_json["state"] = state  # the model state after the op
    failing = [_op_json(op) for op in cx.failing]
    for op_json, legal in zip(failing, cx.legal, strict=False):
        op_json["legal"] = legal
        op_json["why"] = _why(legal, cx.state)
    details = {
        "key": cx.key,
        "state": cx.state,
        "prefix_length": len(cx.prefix),
        "prefix_tail": tail,
        "failing": failing,
    }
    if cx.reason is not None:
        details["reason"] = cx.reason
        lines = [f"key {cx.key}: not {claim.holds}: {cx.reason}:",
                 *(f"  ✗ {describe_operation(op)}" for op in cx.failing)]
        return details, tuple(lines)
    lines = [
        f"key {cx.key}: not {claim.holds}: after {claim.prefix} of {len(cx.prefix)} "
        f"operation(s), leaving state {cx.state}, these {claim.stuck}:",
        *(f"  ✗ {describe_operation(op)}" for op in cx.failing),
        f"the prefix ({'its last ' + str(len(shown)) if len(shown) < len(cx.prefix) else 'all'}"
        f", in {claim.order}):",
        *(f"    {describe_operation(op)}" for op in shown),
    ]
    return details, tuple(lines)


def check_linearizable(
    history: Sequence[Op],
    model: Model[Any, Any] | None = None,
    *,
    time_limit: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    max_states: int | None = None,
) -> CheckResult:
    """Check that a history is linearizable with respect to a model.

    Nemesis operations are ignored. Partitions (keys) are checked in order of
    first appearance; the search stops at the first one found not linearizable.

    Args:
        history: a valid history (see ``experiments.history``).
        model: the sequential specification (default: a register per key).
        time_limit: seconds for the whole check; None for no limit.
        clock: the clock the budget is measured on (seconds, monotonic).
        max_states: give up ("unknown") when one partition's memo of failed
            configurations outgrows this.

    Returns:
        valid True, False (with a counterexample) or "unknown" (budget ran out).

    Raises:
        ModelError: an operation the model cannot interpret (bad input).
    """
    chosen: Model[Any, Any] = RegisterModel() if model is None else model
    return search_history(history, chosen, time_limit=time_limit, clock=clock,
                          max_states=max_states)


def search_history(
    history: Sequence[Op],
    model: Model[Any, Any],
    *,
    order: Order = real_time_links,
    claim: Claim = LINEARIZABLE,
    time_limit: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    max_states: int | None = None,
) -> CheckResult:
    """Search every partition of a history for a sequential order the model accepts.

    With the defaults this is ``check_linearizable``; another ``order`` (and
    ``claim``, its words) checks e.g. sequential consistency by the same search.

    Args:
        history: a valid history.
        model: the sequential specification.
        order: which candidates may come next (default: real-time windows).
        claim: what the result says was established.
        time_limit: seconds for the whole check; None for no limit.
        clock: the clock the budget is measured on.
        max_states: give up ("unknown") when one partition's memo outgrows this.

    Returns:
        valid True, False (with a counterexample) or "unknown" (budget ran out).

    Raises:
        ModelError: an operation the model cannot interpret (bad input).
    """
    budget = _Budget(deadline=None if time_limit is None else clock() + time_limit,
                     clock=clock, max_states=max_states)
    operations = client_operations(history)
    partitions = model.partition(operations)
    prepared = [(key, model.prepare(ops)) for key, ops in partitions.items()]
    details: dict[str, Any] = {"model": model.name, "operations": len(operations),
                               "partitions": len(prepared)}
    states = 0
    for checked, (key, cands) in enumerate(prepared):
        try:
            budget.check(0)
            verdict = _search(key, cands, model, budget, order)
        except _OutOfBudget as exc:
            details |= {"partitions_checked": checked, "states": states, "reason": str(exc)}
            return CheckResult(
                valid=UNKNOWN, checker=claim.checker, details=details,
                summary=f"unknown: {exc} after {checked} of {len(prepared)} partition(s)",
            )
        states += verdict.states
        if verdict.counterexample is not None:
            found, lines = _explain(verdict.counterexample, claim)
            details |= {"partitions_checked": checked + 1, "states": states,
                        "counterexample": found}
            return CheckResult(
                valid=False, checker=claim.checker, details=details, lines=lines,
                summary=f"not {claim.holds}: key {verdict.counterexample.key}",
            )
    details |= {"partitions_checked": len(prepared), "states": states}
    return CheckResult(
        valid=True, checker=claim.checker, details=details,
        summary=f"{claim.holds} ({len(operations)} operations, {len(prepared)} partition(s))",
    )

