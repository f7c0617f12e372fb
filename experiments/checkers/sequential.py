"""Sequential consistency of registers, by the linearizability search in process order.

Rules: a pure function over a history; no IO, no global state; the time
budget works as for linearizability (running out gives "unknown").

Definition (Lamport's, per key): a key's operations are sequentially
consistent when some total order of them is a legal run of one register
starting at null and keeps each process's order. Real time does not count:
a read may return a value that was overwritten long before it began, as long
as every process sees the writes in one order and its own operations in the
order it issued them. What takes part, as for linearizability:

- ``ok`` operations must be placed; ``fail`` ones are left out, except a cas
  failing with ``"error": "mismatch"``, placed as an observation that the
  value was not ``old``;
- ``info`` (and pending) writes and cas may be placed or left out. Their
  outcome was unknown, so the process did not wait for them: they may be
  placed anywhere after the process's earlier operations, also after its
  later ones. An info read constrains nothing and is left out, and so is an
  info write whose value nothing could observe.

Linearizability implies it, with one exception of the linearizability
search's convention that windows touching in time overlap: an operation
invoked at the very nanosecond its process's previous one completed may be
placed before it there, never here (process order is known from the lines).

Per key only: sequential consistency is not compositional (Herlihy & Wing),
so a multi-key history whose every key passes may still have no single order
for all keys. The causal checker looks across keys; ``strongest_model``
counts a model only when no weaker one failed.

The search is ``experiments.checkers.linearizable``'s, given a precedence in
which an operation may be placed once its process's earlier required
operations are (``process_order_links``), and two rules of its own: a move
that changes the state away from ``v`` while a required operation still needs
``v`` and nothing left can produce ``v`` again leads nowhere (so with unique
values a read that lags is placed before the write that replaced its value);
and required operations with equal inputs are not interchangeable here (a
process's later operations may come between), so each is tried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from experiments.checkers.linearizable import Claim, Links, search_history
from experiments.checkers.models import (
    CAS,
    NULL,
    READ,
    WRITE,
    Candidate,
    Key,
    RegisterInput,
    RegisterModel,
    by_key,
    is_readonly,
    optional_windows,
    register_input,
)
from experiments.checkers.result import CheckResult
from experiments.history import Op, Operation

SEQUENTIAL: Final = Claim(checker="sequential", holds="sequentially consistent",
                          prefix="a prefix in process order", stuck="cannot come next",
                          order="the order found")

_REGISTER: Final = RegisterModel()

__all__ = ["SEQUENTIAL", "ProcessOrderRegister", "check_sequential", "process_order_links"]


def _needs(inp: RegisterInput) -> str | None:
    """The one state an input is legal in (a read, a cas), or None (any or several)."""
    kind, a, _ = inp
    return a if kind in (READ, CAS) else None


def _makes(inp: RegisterInput) -> str | None:
    """The state an input leaves behind whatever it was, or None (it changes nothing)."""
    kind, a, b = inp
    if kind == WRITE:
        return a
    return b if kind == CAS and a != b else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessOrderRegister:
    """A read/write/cas register per key, its candidates prepared without real time.

    Same states, inputs and ``step`` as ``RegisterModel``; only which info
    operations are kept and what rules out an operation without a search
    differ (neither may look at times).
    """

    name: str = "register"

    def init(self) -> str:
        """The initial state: null."""
        return NULL

    def partition(self, ops: Sequence[Operation]) -> Mapping[Key, Sequence[Operation]]:
        """Registers are independent per key."""
        return by_key(ops)

    def prepare(self, ops: Sequence[Operation]) -> list[Candidate[RegisterInput]]:
        """The candidates of one key in invocation order (see the module docstring).

        Raises:
            ModelError: unknown f, or a cas value that is not [old, new].
        """
        taken = [(op, inp) for op in ops if (inp := register_input(op)) is not None]
        required = [(inp, 0) for op, inp in taken if op.type != "info"]
        optional = [(inp, 0) for op, inp in taken if op.type == "info"]
        kept = iter(optional_windows(required, optional))
        candidates: list[Candidate[RegisterInput]] = []
        for op, inp in taken:
            is_required = op.type != "info"
            if not is_required and next(kept) is None:
                continue
            candidates.append(Candidate(
                op=op, input=inp, start=op.start, end=op.start if op.end is None else op.end,
                required=is_required, blind=inp[0] == WRITE, readonly=is_readonly(inp)))
        return candidates

    def step(self, state: str, inp: RegisterInput) -> tuple[bool, str]:
        """Apply read, write, cas or a mismatch observation."""
        return _REGISTER.step(state, inp)

    def unexplained(
        self, cands: Sequence[Candidate[RegisterInput]]
    ) -> tuple[Candidate[RegisterInput], ...]:
        """A required read (or cas) of a value that is not null and that nothing writes."""
        made = {NULL} | {v for c in cands if (v := _makes(c.input)) is not None}
        for c in cands:
            needed = _needs(c.input)
            if c.required and needed is not None and needed not in made:
                return (c,)
        return ()

    def describe_state(self, state: str) -> str:
        """The register's value as JSON."""
        return state


def process_order_links(
    cands: Sequence[Candidate[RegisterInput]], model: object = None,
) -> Links:
    """The precedence of sequential consistency: each process's order, nothing else.

    The list holds the calls of the candidates that may come next, in
    invocation order, then one return standing for the end (nothing has a
    deadline). Placing a required candidate brings in the next required one
    of its process and the optional ones its process invoked in between.

    Args:
        cands: one key's candidates (``ProcessOrderRegister.prepare``).
        model: unused (the register's inputs say what each needs and makes).

    Returns:
        The links, with the "doomed" rule of the module docstring.
    """
    del model
    m = len(cands)
    order = sorted(range(m), key=lambda i: (cands[i].start, cands[i].op.invoke.index))
    rank = [0] * m
    for position, i in enumerate(order):
        rank[i] = position
    after: list[list[int]] = [[] for _ in range(m)]
    first: list[int] = []
    last_required: dict[Hashable, int] = {}
    for i in order:
        process = cands[i].op.process
        previous = last_required.get(process)
        (first if previous is None else after[previous]).append(i)
        if cands[i].required:
            last_required[process] = i
    head, end = 2 * m, 2 * m + 1
    nxt = [-1] * (2 * m + 2)
    prv = [-1] * (2 * m + 2)
    last = head
    for event in [*(2 * i for i in first), end]:
        nxt[last] = event
        prv[event] = last
        last = event

    def lift(i: int) -> None:
        x = 2 * i
        p, n = prv[x], nxt[x]
        nxt[p] = n
        prv[n] = p
        e = nxt[head]
        for s in after[i]:  # ascending rank: each one goes after the previous
            while e != end and rank[e >> 1] < rank[s]:
                e = nxt[e]
            y, p = 2 * s, prv[e]
            nxt[p], prv[y], nxt[y], prv[e] = y, p, e, y

    def unlift(i: int) -> None:  # exactly undoes lift(i): the last one in goes out first
        for s in reversed(after[i]):
            y = 2 * s
            p, n = prv[y], nxt[y]
            nxt[p] = n
            prv[n] = p
        x = 2 * i
        p, n = prv[x], nxt[x]
        nxt[p] = x
        prv[n] = x

    needs: dict[str, int] = {}  # value -> required candidates legal only in it
    makes: dict[str, int] = {}  # value -> candidates that leave it whatever the state was
    chains: dict[str, list[tuple[int, str]]] = {}  # value -> cas from it: (candidate, new)
    for i, c in enumerate(cands):
        old, made = _needs(c.input), _makes(c.input)
        if c.required and old is not None:
            needs[old] = needs.get(old, 0) | 1 << i
        if made is not None:
            makes[made] = makes.get(made, 0) | 1 << i
            if old is not None:
                chains.setdefault(old, []).append((i, made))

    def needed(value: str, placed: int, moved_to: str) -> bool:
        """Whether something left needs ``value``: a required op, or a cas from it that is
        the only way left to a needed value (other than ``moved_to``, the new state)."""
        seen = {moved_to, value}
        stack = [value]
        while stack:
            current = stack.pop()
            if needs.get(current, 0) & ~placed:
                return True
            for i, new in chains.get(current, ()):
                if not placed >> i & 1 and new not in seen and not (
                        makes[new] & ~placed & ~(1 << i)):
                    seen.add(new)
                    stack.append(new)
        return False

    def doomed(state: Any, new_state: Any, placed: int) -> bool:
        return not makes.get(state, 0) & ~placed and needed(state, placed, new_state)

    optional = [c.input for c in cands if not c.required]
    keys = ([(i,) if c.required else c.input for i, c in enumerate(cands)]
            if len(set(optional)) < len(optional) else None)
    return Links(nxt=nxt, lift=lift, unlift=unlift, keys=keys, doomed=doomed)


def check_sequential(
    history: Sequence[Op],
    *,
    time_limit: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    max_states: int | None = None,
) -> CheckResult:
    """Check that each key of a register history is sequentially consistent.

    Args:
        history: a valid history; nemesis operations are ignored.
        time_limit: seconds for the whole check; None for no limit.
        clock: the clock the budget is measured on (seconds, monotonic).
        max_states: give up ("unknown") when one key's memo outgrows this.

    Returns:
        valid True, False (with a counterexample: the longest prefix in process
        order found and the operations that cannot come next) or "unknown".

    Raises:
        ModelError: an operation the register cannot interpret (bad input).
    """
    return search_history(history, ProcessOrderRegister(), order=process_order_links,
                          claim=SEQUENTIAL, time_limit=time_limit, clock=clock,
                          max_states=max_states)
