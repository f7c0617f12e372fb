"""Session guarantees of registers (Terry et al., 1994), per process and per key.

Rules: a pure function over a history with unique written values (see
``experiments.checkers.accesses``); no IO, no global state.

Each key has a *version order*: a total order of the values written to it,
starting with null, the order in which replicas apply the writes (the Raft
log's order, or last-writer-wins' timestamps). The history does not show it;
it only shows facts about it: null comes first, and a cas ``[old, new]`` that
took effect put ``new`` after ``old``. A guarantee holds when *some* version
order of every key meets the facts and the guarantee's demands below, for
every process (a session). It is decided exactly: the demands are "a before
b" constraints, and they can be met iff they have no cycle; a cycle, with the
operations behind each of its edges, is the violation reported.

The demands, over each process's acknowledged (``ok``) operations on one key
in the order it issued them (a cas reads ``old``, then writes ``new``):

- **read-your-writes**: a read returns the process's latest write or a later
  version: every value the process wrote before a read comes before (or is)
  the value read;
- **monotonic reads**: a read returns the version of the process's previous
  read or a later one;
- **monotonic writes**: the process's writes are in the version order in the
  order it issued them;
- **writes-follow-reads**: a write comes after every version the process
  read before issuing it.

``session`` is all four at once, with one version order per key: a history
can meet each guarantee alone and not all four together (a process that
writes a then b, seen by another that reads b then a).

What a register history cannot decide, and how it is answered:

- the cross-key parts of monotonic writes and writes-follow-reads (whether a
  replica that has a process's write to y also has its earlier write to x)
  depend on which replica served each read, which the history does not say:
  they are not checked here; the causal checker covers them across keys;
- operations with an unknown outcome (``info``) belong to no session order:
  the process did not wait for them. Their values still take part as versions
  when someone observed them;
- a key where a value was written twice (or null written) has no single
  version per value: its verdict is "unknown", never a guess;
- a read of a value nobody wrote (a phantom) breaks every guarantee: no
  version order contains it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from experiments.checkers.accesses import Access, RegisterAccesses, register_accesses
from experiments.checkers.constraints import Constraints, Reason, Step
from experiments.checkers.models import NULL
from experiments.checkers.result import UNKNOWN, CheckResult, Validity
from experiments.history import Op

READ_YOUR_WRITES: Final = "read-your-writes"
MONOTONIC_READS: Final = "monotonic-reads"
MONOTONIC_WRITES: Final = "monotonic-writes"
WRITES_FOLLOW_READS: Final = "writes-follow-reads"
GUARANTEES: Final = (READ_YOUR_WRITES, MONOTONIC_READS, MONOTONIC_WRITES, WRITES_FOLLOW_READS)
SESSION: Final = "session"
"""All four guarantees at once."""

EXAMPLES: Final = 5
"""How many violating keys a result explains."""

__all__ = ["EXAMPLES", "GUARANTEES", "MONOTONIC_READS", "MONOTONIC_WRITES", "READ_YOUR_WRITES",
           "SESSION", "WRITES_FOLLOW_READS", "check_session_guarantees", "describe_cycle"]


def _value(v: str) -> tuple[str, str]:
    return ("value", v)


def _facts(key: str, accesses: Sequence[Access]) -> Constraints:
    """What every version order of a key meets: null first, a cas's new after its old."""
    facts = Constraints()
    for a in accesses:
        if a.writes is None:
            continue
        facts.add(_value(NULL), _value(a.writes), Reason(
            rule="initial value", text=f"null is the first version of key {key}; op {a.index} "
                                       f"wrote {a.writes}", ops=(a.index,)))
        if a.observes is not None:
            facts.add(_value(a.observes), _value(a.writes), Reason(
                rule="cas", text=f"op {a.index} (process {a.process}) cas {a.observes} -> "
                                 f"{a.writes}: {a.writes} replaced {a.observes}",
                ops=(a.index,)))
    return facts


@dataclass(slots=True)
class _Session:
    """One process's walk over its operations on one key, adding each guarantee's demands."""

    process: int
    key: str
    demands: dict[str, Constraints]
    writes: list[tuple[str, int]] = field(default_factory=list)  # (value, op index)
    position: dict[str, int] = field(default_factory=dict)  # value written -> its place
    reads: int = 0
    last_read: tuple[str, int] | None = None

    def _aux(self, rule: str, n: int) -> Hashable:
        """The n-th "everything so far" point: after all of the first n writes (or reads)."""
        return (rule, self.process, self.key, n)

    def observe(self, value: str, index: int) -> None:
        """The process read ``value`` (op ``index``)."""
        p = self.process
        ryw = self.demands[READ_YOUR_WRITES]
        if self.writes:
            j = self.position.get(value)
            text = f"process {p} read {value} (op {index}) after its writes"
            if j is None:
                ryw.add(self._aux(READ_YOUR_WRITES, len(self.writes)), _value(value),
                        Reason(rule=READ_YOUR_WRITES, text=text, ops=(index,)))
            else:
                if j > 0:
                    ryw.add(self._aux(READ_YOUR_WRITES, j), _value(value),
                            Reason(rule=READ_YOUR_WRITES, text=text, ops=(index,)))
                for later, at in self.writes[j + 1:]:
                    ryw.add(_value(later), _value(value), Reason(
                        rule=READ_YOUR_WRITES,
                        text=f"process {p} read its older write {value} (op {index}) after "
                             f"writing {later} (op {at})", ops=(at, index)))
        if self.last_read is not None and self.last_read[0] != value:
            before, at = self.last_read
            self.demands[MONOTONIC_READS].add(_value(before), _value(value), Reason(
                rule=MONOTONIC_READS,
                text=f"process {p} read {before} (op {at}) then {value} (op {index})",
                ops=(at, index)))
        self.last_read = (value, index)
        self.reads += 1
        wfr = self.demands[WRITES_FOLLOW_READS]
        point = self._aux(WRITES_FOLLOW_READS, self.reads)
        wfr.add(_value(value), point, Reason(
            rule=WRITES_FOLLOW_READS, text=f"process {p} read {value} (op {index})",
            ops=(index,)))
        if self.reads > 1:
            wfr.add(self._aux(WRITES_FOLLOW_READS, self.reads - 1), point, Reason(
                rule=WRITES_FOLLOW_READS, text=f"process {p} read on (op {index})",
                ops=(index,)))

    def write(self, value: str, index: int) -> None:
        """The process wrote ``value`` (op ``index``)."""
        p = self.process
        if self.writes:
            before, at = self.writes[-1]
            self.demands[MONOTONIC_WRITES].add(_value(before), _value(value), Reason(
                rule=MONOTONIC_WRITES,
                text=f"process {p} wrote {before} (op {at}) then {value} (op {index})",
                ops=(at, index)))
        if self.reads:
            self.demands[WRITES_FOLLOW_READS].add(
                self._aux(WRITES_FOLLOW_READS, self.reads), _value(value), Reason(
                    rule=WRITES_FOLLOW_READS,
                    text=f"process {p} wrote {value} (op {index}) after its reads",
                    ops=(index,)))
        self.writes.append((value, index))
        self.position[value] = len(self.writes) - 1
        ryw = self.demands[READ_YOUR_WRITES]
        point = self._aux(READ_YOUR_WRITES, len(self.writes))
        ryw.add(_value(value), point, Reason(
            rule=READ_YOUR_WRITES, text=f"process {p} wrote {value} (op {index})",
            ops=(index,)))
        if len(self.writes) > 1:
            ryw.add(self._aux(READ_YOUR_WRITES, len(self.writes) - 1), point, Reason(
                rule=READ_YOUR_WRITES, text=f"process {p} wrote on (op {index})", ops=(index,)))


def _demands(accesses: Sequence[Access]) -> dict[str, Constraints]:
    """Each guarantee's demands on one key, over every process's acknowledged operations."""
    demands = {rule: Constraints() for rule in GUARANTEES}
    sessions: dict[int, _Session] = {}
    for a in accesses:
        if not a.acknowledged:
            continue
        session = sessions.get(a.process)
        if session is None:
            session = sessions[a.process] = _Session(process=a.process, key=a.key,
                                                      demands=demands)
        if a.observes is not None:
            session.observe(a.observes, a.index)
        if a.writes is not None:
            session.write(a.writes, a.index)
    return demands


def describe_cycle(key: str, cycle: Sequence[Step]) -> tuple[dict[str, Any], list[str]]:
    """A violating cycle as JSON and as lines: its reasons, and the operations behind them.

    Args:
        key: the key (canonical JSON) the cycle is about (or a description).
        cycle: the cycle's edges.

    Returns:
        ``{"key", "ops", "cycle": [reason...]}`` and one line per edge.
    """
    reasons = [step.reason for step in cycle]
    ops = sorted({i for r in reasons for i in r.ops})
    found = {"key": key, "ops": ops, "cycle": [r.to_json() for r in reasons]}
    lines = [f"key {key}: no version order meets these (a cycle):",
             *(f"  {r.rule}: {r.text}" for r in reasons)]
    return found, lines


def _verdict(rule: str, keys: dict[str, Constraints], accs: RegisterAccesses,
             processes: int) -> CheckResult:
    """Check one guarantee's constraints (facts included) on every key."""
    violations: list[tuple[str, list[Step]]] = []
    constraints = 0
    for key, graph in keys.items():
        constraints += len(graph)
        cycle = graph.cycle()
        if cycle is not None:
            violations.append((key, cycle))
    phantoms = [{"index": a.index, "process": a.process, "key": a.key, "value": a.observes}
                for a in accs.phantoms if a.acknowledged]
    ambiguous = accs.ambiguous_keys()
    details: dict[str, Any] = {"keys": len(keys) + len(ambiguous), "processes": processes,
                               "constraints": constraints, "violating_keys": len(violations)}
    lines: list[str] = []
    examples = []
    for key, cycle in violations[:EXAMPLES]:
        found, text = describe_cycle(key, cycle)
        examples.append(found)
        lines += text
    if examples:
        details["violations"] = examples
    if phantoms:
        details["phantoms"] = phantoms
        lines += [f"op {p['index']} (process {p['process']}) read {p['value']} from key "
                  f"{p['key']}, a value nobody wrote" for p in phantoms[:EXAMPLES]]
    details["ops"] = sorted({i for v in examples for i in v["ops"]}
                            | {p["index"] for p in phantoms})
    valid: Validity = True
    if violations or phantoms:
        valid = False
        summary = (f"{rule} violated: {len(violations)} key(s) with a cycle"
                   + (f", {len(phantoms)} read(s) of values nobody wrote" if phantoms else ""))
    elif ambiguous:
        valid = UNKNOWN
        details["ambiguous_keys"] = ambiguous
        summary = (f"unknown: key(s) {', '.join(ambiguous)} have a value written more than "
                   f"once (or null written): these checkers need unique values")
    else:
        summary = f"{rule} holds ({len(keys)} key(s), {processes} process(es))"
    return CheckResult(valid=valid, checker=rule, summary=summary, details=details,
                       lines=tuple(lines))


def check_session_guarantees(history: Sequence[Op]) -> dict[str, CheckResult]:
    """Check the four session guarantees, each alone and all four together.

    Args:
        history: a valid register history with unique written values.

    Returns:
        One result per guarantee (``GUARANTEES``) and one for ``session``.

    Raises:
        ModelError: an operation a register cannot interpret (bad input).
    """
    accs = register_accesses(history)
    by_key: dict[str, list[Access]] = {}
    ambiguous = set(accs.ambiguous_keys())
    for a in accs.accesses:
        if a.key not in ambiguous:
            by_key.setdefault(a.key, []).append(a)
    graphs: dict[str, dict[str, Constraints]] = {rule: {} for rule in (*GUARANTEES, SESSION)}
    for key, accesses in by_key.items():
        facts = _facts(key, accesses)
        demands = _demands(accesses)
        union = Constraints()
        union.merge(facts)
        for rule in GUARANTEES:
            alone = Constraints()
            alone.merge(facts)
            alone.merge(demands[rule])
            graphs[rule][key] = alone
            union.merge(demands[rule])
        graphs[SESSION][key] = union
    processes = len({a.process for a in accs.accesses if a.acknowledged})
    return {rule: _verdict(rule, graphs[rule], accs, processes)
            for rule in (*GUARANTEES, SESSION)}
