"""``chaoslab bench checker``: how fast the register checkers are, and how much they hold.

Rules: ``simulate_register`` is pure given its ``random.Random`` (the tests
use it too); the click command does the measuring and printing. Histories
come from a simulated atomic register: each operation takes effect at one
instant between invocation and completion, so the generated history is
linearizable by construction (and so satisfies every weaker model). For the
weaker models (``--consistency``) the histories have unique values, five
nodes, a nemesis every tenth of the run and final reads.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import random
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any, Final, cast

import click
from rich.console import Console
from rich.table import Table

from experiments.checkers import (
    CheckResult,
    RegisterModel,
    check_history,
    check_linearizable,
    check_session_guarantees,
)
from experiments.history import Json, Op, OpType, Process

START_NS: Final = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterWorkload:
    """Shape of a simulated register workload (times in ns).

    Attributes:
        ops: how many operations are invoked.
        processes: concurrent client processes.
        keys: independent registers.
        values: writes and cas pick values in ``range(values)``.
        info_rate: share of operations whose outcome is unknown (``info``);
            about half of them take effect, possibly after their completion.
        fail_rate: share of writes/cas that fail without effect.
        read_rate: share of reads (the rest: writes, cas).
        cas_rate: share of cas among the non-reads.
        latency: (min, max) time from invocation to completion.
        think: max pause of a process between two operations.
        pending_rate: share of operations in flight at the end left pending.
        nemesis_every: a nemesis invoke/info pair every this many ops (0: none).
        unique: every write and cas writes a value never written before (1, 2,
            ...), and a cas's old is the key's current value half of the time,
            else an earlier one (or null): what the weaker-model checkers need.
        nodes: client ops name a replica ``"node": "n1"``..., processes spread
            round-robin (0: no node field).
        final_reads: after everything settled, each node's own new process
            reads every key once, marked ``"final": true``.
    """

    ops: int
    processes: int
    keys: int = 1
    values: int = 5
    info_rate: float = 0.1
    fail_rate: float = 0.02
    read_rate: float = 0.5
    cas_rate: float = 0.3
    latency: tuple[int, int] = (1_000_000, 10_000_000)
    think: int = 2_000_000
    pending_rate: float = 0.3
    nemesis_every: int = 0
    unique: bool = False
    nodes: int = 0
    final_reads: bool = False


@dataclass(slots=True)
class _Call:
    process: int
    f: str
    key: str
    value: Json
    outcome: OpType
    result: Json = None
    error: str | None = None


@dataclass(slots=True)
class _Values:
    """Where written values come from: a small range, or (unique) a counter."""

    unique: bool
    span: int
    fresh: int = 0
    written: dict[str, list[int]] = dataclasses.field(default_factory=dict)

    def write(self, rng: random.Random, key: str) -> Json:
        if not self.unique:
            return rng.randrange(self.span)
        self.fresh += 1
        self.written.setdefault(key, []).append(self.fresh)
        return self.fresh

    def cas(self, rng: random.Random, key: str, current: Json) -> Json:
        if not self.unique:
            return [rng.randrange(self.span), rng.randrange(self.span)]
        old = current if rng.random() < 0.5 else rng.choice([None, *self.written.get(key, [])])
        return [old, self.write(rng, key)]


def _choose(rng: random.Random, spec: RegisterWorkload, process: int, values: _Values,
            registers: dict[str, Json]) -> _Call:
    key = f"k{rng.randrange(spec.keys)}"
    value: Json
    if rng.random() < spec.read_rate:
        f, value = "read", None
    elif rng.random() < spec.cas_rate:
        f, value = "cas", values.cas(rng, key, registers.get(key))
    else:
        f, value = "write", values.write(rng, key)
    roll = rng.random()
    outcome: OpType = "ok"
    if roll < spec.info_rate:
        outcome = "info"
    elif roll < spec.info_rate + spec.fail_rate and f != "read":
        outcome = "fail"
    return _Call(process=process, f=f, key=key, value=value, outcome=outcome)


def _apply(registers: dict[str, Json], call: _Call) -> None:
    """The atomic register: one instant, one effect; records what a client would see."""
    current = registers.get(call.key)
    if call.f == "read":
        call.result = current
    elif call.f == "write":
        registers[call.key] = call.value
        call.result = call.value
    elif current == call.value[0]:
        registers[call.key] = call.value[1]
        call.result = call.value
    else:
        call.result = call.value
        if call.outcome == "ok":
            call.outcome, call.error = "fail", "mismatch"


def _op(index: int, process: Process, kind: OpType, call: tuple[str, Json, Json], at: int, *,
        error: str | None = None, node: str | None = None,
        extra: dict[str, Json] | None = None) -> Op:
    f, key, value = call
    return Op(index=index, process=process, type=kind, f=f, key=key, value=value, time=at,
              error=error, node=node, extra=extra or {})


def _node(spec: RegisterWorkload, process: int) -> str | None:
    return f"n{process % spec.nodes + 1}" if spec.nodes else None


def _final_reads(spec: RegisterWorkload, registers: dict[str, Json], lines: list[Op]) -> None:
    """Each node's own new process reads every key once, after everything settled."""
    at = (lines[-1].time if lines else START_NS) + spec.think + 2 * spec.latency[1]
    for n in range(spec.nodes or 1):
        process = spec.processes + n
        node = _node(spec, process - spec.processes) if spec.nodes else None
        clock = at
        for k in range(spec.keys):
            key = f"k{k}"
            for kind, value, when in (("invoke", None, clock),
                                      ("ok", registers.get(key), clock + spec.latency[0])):
                lines.append(_op(len(lines), process, cast(OpType, kind), ("read", key, value),
                                 when, node=node, extra={"final": True}))
            clock += spec.latency[0] + 1


def simulate_register(rng: random.Random, spec: RegisterWorkload) -> list[Op]:
    """Generate a linearizable register history with realistic overlap.

    Args:
        rng: the only source of randomness (seed it to reproduce a history).
        spec: the workload shape.

    Returns:
        The history, ops in time order, indexes 0..n-1.
    """
    registers: dict[str, Json] = {}
    values = _Values(unique=spec.unique, span=spec.values)
    events: list[tuple[int, int, int, str, _Call]] = []  # (time, rank, seq, kind, call)
    seq = 0

    def push(at: int, rank: int, kind: str, call: _Call) -> None:
        nonlocal seq
        heapq.heappush(events, (at, rank, seq, kind, call))
        seq += 1

    for process in range(spec.processes):
        push(START_NS + rng.randrange(spec.think + 1), 2, "invoke", _Call(
            process=process, f="", key="", value=None, outcome="ok"))
    issued = 0
    lines: list[Op] = []
    nemesis_up = False
    while events:
        at, _, _, kind, call = heapq.heappop(events)
        if kind == "effect":
            _apply(registers, call)
            continue
        if kind == "complete":
            if issued >= spec.ops and rng.random() < spec.pending_rate:
                continue  # the client vanished: the invoke stays pending
            shown = call.result if call.outcome == "ok" else call.value
            lines.append(_op(len(lines), call.process, call.outcome, (call.f, call.key, shown),
                             at, error=call.error, node=_node(spec, call.process)))
            if issued < spec.ops:
                push(at + rng.randrange(spec.think + 1), 2, "invoke", call)
            continue
        if issued >= spec.ops:
            continue
        issued += 1
        if spec.nemesis_every and issued % spec.nemesis_every == 0:
            f = "stop-partition" if nemesis_up else "start-partition"
            nemesis_up = not nemesis_up
            lines.append(_op(len(lines), "nemesis", "invoke", (f, None, None), at))
            lines.append(_op(len(lines), "nemesis", "info", (f, None, None), at))
        call = _choose(rng, spec, call.process, values, registers)
        lines.append(_op(len(lines), call.process, "invoke", (call.f, call.key, call.value), at,
                         node=_node(spec, call.process)))
        latency = rng.randint(*spec.latency)
        if call.outcome == "ok" or (call.outcome == "info" and rng.random() < 0.5):
            reach = latency if call.outcome == "ok" else 2 * latency
            push(at + rng.randint(0, reach), 0, "effect", call)
        push(at + latency, 1, "complete", call)
    if spec.final_reads:
        _final_reads(spec, registers, lines)
    return lines


def with_stale_read(history: list[Op]) -> list[Op]:
    """The history with the ok read 3/4 of the way through returning null (initial value).

    Written values are never null, so once a write has completed on that key,
    the history is not linearizable.
    """
    reads = [i for i, op in enumerate(history) if op.type == "ok" and op.f == "read"]
    if not reads:
        return history
    target = reads[len(reads) * 3 // 4]
    changed = list(history)
    changed[target] = dataclasses.replace(history[target], value=None)
    return changed


BENCH_MODELS: Final = ("linearizable", "sequential", "causal", "session", "eventual",
                       "staleness", "strongest")
"""What ``--consistency`` can time: ``session`` is the four guarantees in one pass."""


def _check(history: list[Op], consistency: str, time_limit: float) -> CheckResult:
    """Run one checker (``session``: all four guarantees, the combined verdict)."""
    if consistency == "linearizable":
        return check_linearizable(history, RegisterModel(), time_limit=time_limit)
    if consistency == "session":
        return check_session_guarantees(history)["session"]
    return check_history(history, "register", consistency=consistency, time_limit=time_limit)


@click.command("checker")
@click.option("--ops", "sizes", default="1000,10000,100000", show_default=True,
              help="Comma-separated history sizes (operations).")
@click.option("--processes", default="10,50", show_default=True,
              help="Comma-separated process counts.")
@click.option("--keys", default=10, show_default=True)
@click.option("--info-rate", default=0.1, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--time-limit", default=60.0, show_default=True, help="Seconds per check.")
@click.option("--consistency", "models", default="linearizable", show_default=True,
              help=f"Comma-separated checkers to time, of {', '.join(BENCH_MODELS)}. Any but "
                   "linearizable alone makes the histories the weaker models need: unique "
                   "values, 5 nodes, final reads.")
@click.option("--memory/--no-memory", default=True, show_default=True,
              help="Also measure peak memory (a second, traced run).")
@click.option("--stale-read", is_flag=True,
              help="Make one read, 3/4 into each history, return null: an invalid history.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per measurement.")
def checker(*, sizes: str, processes: str, keys: int, info_rate: float, seed: int,
            time_limit: float, models: str, memory: bool, stale_read: bool,
            as_json: bool) -> None:
    """Time (and peak memory of) the register checkers: linearizability, or the weaker ones."""
    chosen = [m.strip() for m in models.split(",")]
    unknown = [m for m in chosen if m not in BENCH_MODELS]
    if unknown:
        msg = f"unknown checker(s) {', '.join(unknown)}; expected some of {', '.join(BENCH_MODELS)}"
        raise click.BadParameter(msg, param_hint="--consistency")
    weak = chosen != ["linearizable"]
    rows: list[dict[str, Any]] = []
    for size in (int(s) for s in sizes.split(",")):
        for procs in (int(p) for p in processes.split(",")):
            spec = RegisterWorkload(ops=size, processes=procs, keys=keys, info_rate=info_rate,
                                    unique=weak, nodes=5 if weak else 0, final_reads=weak,
                                    nemesis_every=size // 10 if weak else 0)
            history = simulate_register(random.Random(seed), spec)
            if stale_read:
                history = with_stale_read(history)
            for consistency in chosen:
                started = time.perf_counter()
                result = _check(history, consistency, time_limit)
                elapsed = time.perf_counter() - started
                peak = None
                if memory:
                    tracemalloc.start()
                    _check(history, consistency, time_limit)
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                rows.append({"consistency": consistency, "ops": size, "processes": procs,
                             "keys": keys, "info_rate": info_rate, "seed": seed,
                             "stale_read": stale_read, "history_lines": len(history),
                             "valid": result.valid, "elapsed_s": round(elapsed, 4),
                             "states": result.details.get("states"),
                             "peak_mib": None if peak is None else round(peak / 2**20, 2)})
                if as_json:
                    click.echo(json.dumps(rows[-1]))
    if as_json:
        return
    kind = "one stale read" if stale_read else "valid"
    table = Table(title=f"register checkers ({kind} histories, seed {seed}, "
                  f"{keys} keys, {info_rate:.0%} info, limit {time_limit}s)")
    columns: tuple[str, ...] = ("ops", "processes", "history_lines", "valid", "elapsed_s",
                                "states", "peak_mib")
    if weak:
        columns = ("consistency", "ops", "processes", "valid", "elapsed_s", "peak_mib")
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console().print(table)
