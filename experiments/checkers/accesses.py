"""Register operations as the weaker-model checkers see them: who wrote and who read what.

Rules: pure functions over a history, no IO, no global state. Values and keys
are compared as canonical JSON (``1`` differs from ``true``).

These checkers need unique written values: on each key every write and cas
writes a value never written before, and nobody writes null (the initial
value). Then a value read names the one operation that wrote it. A value
written more than once on a key (or a write of null) is *ambiguous*: the
checkers leave out what depends on which write it was and answer "unknown"
rather than guess (unless they find a violation elsewhere).

What each operation contributes:

- an ``ok`` read observes its value; an ``ok`` write writes its value; an
  ``ok`` cas ``[old, new]`` observes ``old`` and then writes ``new``;
- an ``info`` (or pending) write or cas may have written its value. It did if
  some operation that took effect observed the value (found as a fixpoint,
  since an info cas that took effect observed ``old`` too); otherwise it is
  left out, as if it never happened;
- ``fail`` operations (also a cas failing with ``"error": "mismatch"``, whose
  observation "the value was not old" only linearizability and sequential
  consistency use) and info reads: nothing.

A *phantom* is an operation that observed a value nobody wrote (nor the
initial null): no replica could ever have held it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from experiments.checkers.models import CAS, NULL, READ, WRITE, canonical, register_input
from experiments.history import Op, Operation, client_operations

__all__ = ["Access", "RegisterAccesses", "register_accesses"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Access:
    """One register operation that took effect.

    Attributes:
        op: the operation.
        key: its key, as canonical JSON.
        observes: the value it read (canonical JSON), or None.
        writes: the value it wrote, or None.
        acknowledged: it completed ``ok`` (else: info that took effect).
        index: the history index of its invocation.
        process: the client process that ran it.
    """

    op: Operation
    key: str
    observes: str | None
    writes: str | None
    acknowledged: bool
    index: int = field(init=False)
    process: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", self.op.invoke.index)
        object.__setattr__(self, "process", int(self.op.process))


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterAccesses:
    """A register history's accesses and who wrote each value.

    Attributes:
        accesses: the operations that took effect, in invocation order.
        writers: (key, value) -> the one access that wrote it (ambiguous ones left out).
        ambiguous: (key, value) pairs written more than once, or null written.
        phantoms: accesses that observed a value nobody wrote.
    """

    accesses: tuple[Access, ...]
    writers: Mapping[tuple[str, str], Access]
    ambiguous: frozenset[tuple[str, str]]
    phantoms: tuple[Access, ...]

    def source(self, access: Access) -> Access | None:
        """The access that wrote what ``access`` observed (None: the initial null,
        an ambiguous value or a phantom)."""
        if access.observes is None:
            return None
        return self.writers.get((access.key, access.observes))

    def ambiguous_keys(self) -> list[str]:
        """The keys with an ambiguous value, sorted."""
        return sorted({key for key, _ in self.ambiguous})


def _candidate(op: Operation) -> Access | None:
    """What an operation may contribute (info ones before knowing they took effect)."""
    inp = register_input(op)  # raises ModelError on bad input
    if inp is None:
        return None
    kind, a, b = inp
    key = canonical(op.key)
    acknowledged = op.type == "ok"
    if kind == READ:
        return Access(op=op, key=key, observes=a, writes=None, acknowledged=True)
    if kind == WRITE:
        return Access(op=op, key=key, observes=None, writes=a, acknowledged=acknowledged)
    if kind == CAS:
        return Access(op=op, key=key, observes=a, writes=b, acknowledged=acknowledged)
    return None  # a mismatch observation


def register_accesses(history: Sequence[Op]) -> RegisterAccesses:
    """Extract the accesses of a register history (see the module docstring).

    Args:
        history: a valid history; nemesis operations are ignored.

    Returns:
        The accesses, writers, ambiguous values and phantoms.

    Raises:
        ModelError: an operation other than read/write/cas, or a cas value
            that is not [old, new] (bad input).
    """
    candidates = [c for op in client_operations(history) if (c := _candidate(op)) is not None]
    written = Counter((c.key, c.writes) for c in candidates if c.writes is not None)
    ambiguous = frozenset(kv for kv, n in written.items() if n > 1 or kv[1] == NULL)
    observed = {(c.key, c.observes) for c in candidates
                if c.acknowledged and c.observes is not None}
    unsure = [c for c in candidates if not c.acknowledged]
    effective: set[int] = set()
    changed = True
    while changed:  # an info cas that took effect observed old: that may reveal another
        changed = False
        for c in unsure:
            if c.index not in effective and (c.key, c.writes) in observed:
                effective.add(c.index)
                changed = True
                if c.observes is not None:
                    observed.add((c.key, c.observes))
    accesses = tuple(c for c in candidates if c.acknowledged or c.index in effective)
    writers = {(a.key, a.writes): a for a in accesses
               if a.writes is not None and (a.key, a.writes) not in ambiguous}
    produced = {(a.key, a.writes) for a in accesses if a.writes is not None}
    phantoms = tuple(a for a in accesses if a.observes is not None and a.observes != NULL
                     and (a.key, a.observes) not in produced)
    return RegisterAccesses(accesses=accesses, writers=writers, ambiguous=ambiguous,
                            phantoms=phantoms)
