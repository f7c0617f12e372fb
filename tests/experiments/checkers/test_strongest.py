"""Every model accepts sequential executions; each generated anomaly breaks exactly its models."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from experiments.bench.checker import RegisterWorkload, simulate_register
from experiments.checkers import MODELS, check_staleness, strongest_model, strongest_result
from experiments.history import Op, client_operations, format_history, validate_history

Violation = Callable[[random.Random, list[Op]], list[Op] | None]
"""Breaks a history in one way, or None when this history offers no place to."""


def execution(seed: int) -> tuple[random.Random, list[Op]]:
    """A history of a simulated atomic register with unique values, three nodes, nemesis
    operations and final reads: a sequential execution as clients saw it."""
    rng = random.Random(seed)
    spec = RegisterWorkload(
        ops=rng.randint(10, 120), processes=rng.randint(1, 8), keys=rng.randint(1, 3),
        info_rate=rng.choice([0.0, 0.1, 0.3]), fail_rate=rng.choice([0.0, 0.1]),
        pending_rate=rng.choice([0.0, 0.5]), nemesis_every=rng.choice([0, 10]), unique=True,
        nodes=3, final_reads=True)
    return rng, simulate_register(rng, spec)


def _reindexed(ops: list[Op]) -> list[Op]:
    return [dataclasses.replace(op, index=n) for n, op in enumerate(ops)]


def _idle(history: list[Op]) -> set[Any]:
    """Client processes with nothing outstanding at the end."""
    operations = client_operations(history)
    return {o.process for o in operations} - {o.process for o in operations
                                               if o.completion is None}


def _append_read(history: list[Op], process: int, key: str, value: Any) -> list[Op]:
    """The history with one more ok read at its very end."""
    at = history[-1].time + 1
    node = next((op.node for op in history if op.process == process and op.node), "n1")
    read = [Op(index=0, process=process, type="invoke", f="read", key=key, time=at, node=node),
            Op(index=0, process=process, type="ok", f="read", key=key, value=value, time=at + 1,
               node=node)]
    return _reindexed([*history, *read])


def stale_read(rng: random.Random, history: list[Op]) -> list[Op] | None:
    """A new process reads null at the end from a key some acknowledged write changed."""
    written = sorted({op.key for op in history if op.type == "ok" and op.f in ("write", "cas")
                      and op.error is None})
    if not written:
        return None
    fresh = max(op.process for op in history if op.process != "nemesis") + 1
    return _append_read(history, fresh, rng.choice(written), None)


def lost_write(rng: random.Random, history: list[Op]) -> list[Op] | None:
    """A process's last acknowledged access to a key was a cas [a, b]; it then reads a."""
    last: dict[tuple[Any, Any], Op] = {}
    for o in client_operations(history):
        if o.type == "ok" and o.completion is not None:
            last[(o.process, o.key)] = o.completion
    choices = [(p, key, op) for (p, key), op in sorted(last.items(), key=str)
               if op.f == "cas" and p in _idle(history)]
    if not choices:
        return None
    process, key, op = rng.choice(choices)
    return _append_read(history, process, key, op.value[0])


def reordered_reads(rng: random.Random, history: list[Op]) -> list[Op] | None:
    """A process that never wrote a key and last read a value from it reads null afterwards."""
    seen: dict[tuple[Any, Any], Any] = {}
    wrote: set[tuple[Any, Any]] = set()
    for o in client_operations(history):
        if o.type == "ok" and o.f == "read":
            seen[(o.process, o.key)] = o.value
        elif o.type == "ok":
            wrote.add((o.process, o.key))
    choices = [(p, key) for (p, key), value in sorted(seen.items(), key=str)
               if value is not None and (p, key) not in wrote and p in _idle(history)
               and not any(op.process == p and "final" in op.extra for op in history)]
    if not choices:
        return None
    process, key = rng.choice(choices)
    return _append_read(history, process, key, None)


def read_before_own_write(rng: random.Random, history: list[Op]) -> list[Op] | None:
    """Just before a process's acknowledged write of w, the same process reads w."""
    before: dict[Any, int] = {}
    room = []
    for n, op in enumerate(history):
        if op.type == "invoke" and op.f == "write" and op.time - before.get(op.process, -2) > 1:
            room.append(n)
        before[op.process] = op.time
    acknowledged = {o.invoke.index for o in client_operations(history) if o.type == "ok"}
    room = [n for n in room if n in acknowledged]
    if not room:
        return None
    at = rng.choice(room)
    write = history[at]
    read = [Op(index=0, process=write.process, type=kind, f="read", key=write.key,
               value=write.value if kind == "ok" else None, time=write.time - back,
               node=write.node) for kind, back in (("invoke", 2), ("ok", 1))]
    return _reindexed([*history[:at], *read, *history[at:]])


def diverged_final_read(rng: random.Random, history: list[Op]) -> list[Op] | None:
    """One node's first final read returns null where an acknowledged write put a value."""
    del rng
    finals = [i for i, op in enumerate(history) if op.type == "ok" and "final" in op.extra]
    first = min(finals, key=lambda i: (history[i].process, i))
    value = history[first].value
    acknowledged = {(op.key, repr(op.value)) for op in history
                    if op.type == "ok" and op.f == "write"}
    acknowledged |= {(op.key, repr(op.value[1])) for op in history
                     if op.type == "ok" and op.f == "cas"}
    if value is None or (history[first].key, repr(value)) not in acknowledged:
        return None
    changed = list(history)
    changed[first] = dataclasses.replace(history[first], value=None)
    return changed


SESSION_AND_UP = {"linearizable", "sequential", "causal", "session"}
VIOLATIONS: list[tuple[Violation, set[str], str]] = [
    (stale_read, {"linearizable"}, "sequential"),
    (lost_write, SESSION_AND_UP | {"read-your-writes"}, "eventual"),
    (reordered_reads, SESSION_AND_UP | {"monotonic-reads"}, "eventual"),
    (read_before_own_write, SESSION_AND_UP | {"writes-follow-reads"}, "eventual"),
    (diverged_final_read, {"linearizable", "eventual"}, "sequential"),
]


class TestSequentialExecutions:
    @settings(max_examples=150, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def test_every_model_holds(self, seed: int) -> None:
        """A sequential execution satisfies every model: the strongest is linearizable."""
        _, history = execution(seed)
        note(f"seed {seed}\n{format_history(history)}")

        name, results = strongest_model(history, time_limit=60)

        assert ("linearizable", dict.fromkeys(MODELS, True)) == (
            name, {model: r.valid for model, r in results.items()})
        assert 0 == check_staleness(history).details["stale_reads"]


class TestGeneratedViolations:
    @pytest.mark.parametrize(("violate", "expected", "strongest"), VIOLATIONS,
                             ids=[v.__name__ for v, _, _ in VIOLATIONS])
    @settings(max_examples=60, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def test_caught_by_exactly_the_models_it_breaks(
            self, violate: Violation, expected: set[str], strongest: str, seed: int) -> None:
        """Each kind of anomaly breaks exactly the models it should, and the strongest model
        left standing is named."""
        rng, history = execution(seed)
        broken = violate(rng, history)
        assume(broken is not None)
        assert broken is not None
        validate_history(broken)
        note(f"seed {seed}\n{format_history(broken)}")

        name, results = strongest_model(broken, time_limit=60)

        assert (expected, strongest) == (
            {model for model, r in results.items() if r.valid is False}, name)
        assert all(r.valid is True for model, r in results.items() if model not in expected)


class TestStrongestResult:
    def test_one_result_names_model_and_anomalies(self, build: Callable[..., list[Op]]) -> None:
        """The combined result names the strongest model, the anomalies and every verdict."""
        history = build((0, "write", 1, 0, 10, "ok"), (0, "write", 2, 20, 30, "ok"),
                        (1, "read", 1, 40, 50, "ok"))

        result = strongest_result(history)

        assert (True, "sequential", ["linearizable"]) == (
            result.valid, result.details["strongest"], result.details["anomalies"])
        assert "unknown" == result.details["models"]["eventual"]

    def test_nothing_known_to_hold(self, build: Callable[..., list[Op]]) -> None:
        """When no model is known to hold the name is none and the verdict not valid."""
        result = strongest_result(build((0, "read", 7, 0, 10, "ok")))

        assert ("none", "unknown") == (result.details["strongest"], result.valid)
