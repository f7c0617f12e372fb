"""Eventual consistency (convergence) of registers: every replica's final read agrees.

Rules: a pure function over a history; no IO, no global state.

Inputs the history must carry: final reads are client reads marked with the
extra field ``"final": true`` (on the invoke or the completion); client
operations name the replica that served them with ``"node"`` (a final read
without one counts as its process's own replica). The *heal* is the end of
the last nemesis operation (its completion); without nemesis operations the
clock starts at the first final read's invocation.

Definition, per key that has final reads: each replica's *final value* is
what its last ``ok`` final read returned. The key converged when every
replica's final value is the same. Its *convergence time* is when the last
replica had settled, measured from the heal: for each replica, the
completion of the first of its final reads from which on all of them return
the agreed value (an upper bound: the polling reads see it no sooner). The
history is eventually consistent when every key converged within ``bound``.

Verdicts: False when some key's replicas disagree (diverged) or converged
later than the bound; "unknown" when nothing can be decided: no final reads,
a fault still in force at the end (a nemesis operation without completion),
a replica seen in the history with no ``ok`` final read of a key others
read, or a written key without final reads; else True. Which value they
agree on is not judged here (lost writes are the other checkers' business).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from experiments.checkers.models import canonical
from experiments.checkers.result import UNKNOWN, CheckResult, Validity
from experiments.history import NEMESIS, Op, Operation, pair_operations

EVENTUAL: Final = "eventual"
DEFAULT_BOUND_S: Final = 10.0
"""How long after the heal replicas may take to agree, by default."""

__all__ = ["DEFAULT_BOUND_S", "EVENTUAL", "check_eventual", "is_final_read"]


def is_final_read(op: Operation) -> bool:
    """Whether a client operation is a read marked ``"final": true``."""
    if op.f != "read":
        return False
    marks = [op.invoke.extra.get("final")]
    if op.completion is not None:
        marks.append(op.completion.extra.get("final"))
    return any(mark is True for mark in marks)


def _replica(op: Operation) -> str:
    node = op.invoke.node if op.invoke.node is not None else (
        op.completion.node if op.completion is not None else None)
    return f"process {op.process}" if node is None else str(node)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Key:
    """One key's final reads per replica, in completion order: (end, value, index)."""

    key: str
    reads: dict[str, list[tuple[int, str, int]]]


def _heal(operations: Sequence[Operation]) -> tuple[int | None, bool]:
    """The end of the last nemesis operation, and whether some fault never ended."""
    ends = [op.completion.time for op in operations
            if op.process == NEMESIS and op.completion is not None]
    unhealed = any(op.process == NEMESIS and op.completion is None for op in operations)
    return (max(ends) if ends else None), unhealed


def _settled(reads: list[tuple[int, str, int]], agreed: str) -> int:
    """When a replica's final reads started returning ``agreed`` for good (a completion)."""
    settled = reads[-1][0]
    for end, value, _ in reversed(reads):
        if value != agreed:
            break
        settled = end
    return settled


def check_eventual(history: Sequence[Op], *, bound_s: float = DEFAULT_BOUND_S) -> CheckResult:
    """Check that every replica's final read of each key agrees within ``bound_s`` of the heal.

    Args:
        history: a valid history whose final reads are marked (module docstring).
        bound_s: seconds after the heal by which replicas must agree.

    Returns:
        The verdict with the convergence time (``convergence_s``, the worst
        key's) and, for a key that diverged, each replica's final value and
        the operations (history indexes) that read it.
    """
    operations = pair_operations(history)
    clients = [op for op in operations if op.process != NEMESIS]
    heal, unhealed = _heal(operations)
    replicas = {_replica(op) for op in clients if op.invoke.node is not None}
    keys: dict[str, _Key] = {}
    for op in clients:
        if is_final_read(op) and op.type == "ok" and op.end is not None:
            key = keys.setdefault(canonical(op.key), _Key(key=canonical(op.key), reads={}))
            key.reads.setdefault(_replica(op), []).append(
                (op.end, canonical(op.value), op.invoke.index))
    firsts = [op.start for op in clients if is_final_read(op)]
    origin = heal if heal is not None else (min(firsts) if firsts else 0)
    written = {canonical(op.key) for op in clients if op.f in ("write", "cas")}
    details: dict[str, Any] = {"heal": heal, "bound_s": bound_s, "keys": len(keys),
                               "replicas": sorted(replicas)}
    diverged: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    worst = 0
    for key in keys.values():
        finals = {replica: sorted(reads)[-1] for replica, reads in key.reads.items()}
        absent = sorted(replicas - set(finals))
        if absent:
            missing.append({"key": key.key, "replicas": absent})
        values = {value for _, value, _ in finals.values()}
        if len(values) > 1:
            diverged.append({"key": key.key, "finals": {
                replica: {"value": value, "index": index}
                for replica, (_, value, index) in sorted(finals.items())}})
            continue
        (agreed,) = values
        settled = max(_settled(sorted(reads), agreed) for reads in key.reads.values())
        took = max(0, settled - origin)
        worst = max(worst, took)
        if took > bound_s * 1e9:
            late.append({"key": key.key, "convergence_s": took / 1e9})
    unread = sorted(written - set(keys))
    details |= {"convergence_s": worst / 1e9, "diverged": diverged, "late": late}
    lines = [f"key {d['key']} diverged: " + ", ".join(
        f"{replica} read {f['value']} (op {f['index']})" for replica, f in d["finals"].items())
        for d in diverged]
    lines += [f"key {d['key']} converged only {d['convergence_s']:.3f}s after the heal "
              f"(bound {bound_s}s)" for d in late]
    details["ops"] = sorted(f["index"] for d in diverged for f in d["finals"].values())
    valid: Validity = True
    if diverged or late:
        valid = False
        summary = (f"not convergent: {len(diverged)} key(s) diverged, {len(late)} converged "
                   f"later than {bound_s}s")
    elif not keys:
        valid, summary = UNKNOWN, "unknown: no final reads (marked \"final\": true) to compare"
    elif unhealed:
        valid, summary = UNKNOWN, "unknown: a fault was still in force at the end"
    elif missing or unread:
        valid = UNKNOWN
        details |= {"missing": missing, "unread_keys": unread}
        summary = ("unknown: some replica has no ok final read of a key, or a written key "
                   "has no final reads")
    else:
        summary = (f"convergent: {len(keys)} key(s) agreed on every replica "
                   f"{worst / 1e9:.3f}s after the heal")
    return CheckResult(valid=valid, checker=EVENTUAL, summary=summary, details=details,
                       lines=tuple(lines))
