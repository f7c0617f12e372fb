"""Sequential consistency: the linearizability search in process order agrees with brute force."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st

from experiments.bench.checker import RegisterWorkload, simulate_register
from experiments.checkers import UNKNOWN, ModelError, check_linearizable, check_sequential
from experiments.history import Op, Operation, client_operations, format_history, validate_history

Build = Callable[..., list[Op]]


def canon(value: Any) -> str:
    """JSON text that tells 1, 1.0 and true apart (the checker's notion of equality)."""
    return json.dumps(value, sort_keys=True)


def _action(op: Operation) -> tuple[bool, tuple[str, str, str]] | None:
    """(required, action) for an op, as the semantics say; None when it takes no part."""
    kind = op.type
    if op.f == "read":
        return (True, ("read", canon(op.value), "")) if kind == "ok" else None
    if op.f == "write":
        return None if kind == "fail" else (kind == "ok", ("write", canon(op.value), ""))
    old, new = canon(op.invoke.value[0]), canon(op.invoke.value[1])
    if kind == "fail":
        return (True, ("mismatch", old, "")) if op.error == "mismatch" else None
    return kind == "ok", ("cas", old, new)


def _step(action: tuple[str, str, str], state: str) -> tuple[bool, str]:
    kind, a, b = action
    if kind == "read":
        return state == a, state
    if kind == "write":
        return True, a
    if kind == "mismatch":
        return state != a, state
    return (True, b) if state == a else (False, state)


def sequential_oracle(history: list[Op]) -> bool:
    """Brute force, per key: some order of the ops keeps each process's order and is a legal
    register run. Required ops in process order; an info op may be placed once its process's
    earlier required ops are, or never. Tries every order (memoized on placed set, state)."""
    keys: dict[str, list[Operation]] = {}
    for op in client_operations(history):
        keys.setdefault(canon(op.key), []).append(op)
    return all(_oracle_key(ops) for ops in keys.values())


def _oracle_key(ops: list[Operation]) -> bool:
    items: list[tuple[bool, tuple[str, str, str], int | None]] = []
    last_required: dict[object, int] = {}
    for op in sorted(ops, key=lambda o: o.invoke.index):
        found = _action(op)
        if found is None:
            continue
        required, action = found
        items.append((required, action, last_required.get(op.process)))
        if required:
            last_required[op.process] = len(items) - 1
    needed = {i for i, item in enumerate(items) if item[0]}
    seen: set[tuple[frozenset[int], str]] = set()

    def place(placed: frozenset[int], state: str) -> bool:
        if needed <= placed:
            return True
        if (placed, state) in seen:
            return False
        seen.add((placed, state))
        for i, (_, action, after) in enumerate(items):
            if i in placed or (after is not None and after not in placed):
                continue
            ok, next_state = _step(action, state)
            if ok and place(placed | {i}, next_state):
                return True
        return False

    return place(frozenset(), canon(None))


def perturbed(seed: int) -> list[Op]:
    """A small simulated register history (values from a tiny range) with a few ops changed:
    a read's value, an outcome, a time, a write dropped or rewritten."""
    rng = random.Random(seed)
    history = simulate_register(rng, RegisterWorkload(
        ops=rng.randint(1, 12), processes=rng.randint(1, 5), keys=rng.randint(1, 2),
        values=rng.randint(2, 3), info_rate=rng.choice([0.0, 0.2, 0.5]),
        fail_rate=rng.choice([0.0, 0.2]), latency=(1, 10), think=5, pending_rate=0.5))
    for _ in range(rng.randint(0, 3)):
        completions = [i for i, op in enumerate(history) if op.type != "invoke"]
        if not completions:
            break
        i = rng.choice(completions)
        op = history[i]
        choice = rng.randrange(3)
        if choice == 0 and op.f == "read":
            history[i] = dataclasses.replace(op, type="ok", value=rng.choice([None, 0, 1, 2]))
        elif choice == 1:
            history[i] = dataclasses.replace(op, type=rng.choice(["ok", "info", "fail"]),
                                             error=rng.choice([None, "mismatch"]))
        elif choice == 2 and op.f == "write":
            invoke = max(j for j in range(i) if history[j].process == op.process)
            value = rng.randrange(3)
            history[i] = dataclasses.replace(op, value=value)
            history[invoke] = dataclasses.replace(history[invoke], value=value)
    return [dataclasses.replace(op, index=n) for n, op in enumerate(history)]


def touching(history: list[Op]) -> bool:
    """Whether some process invoked an op at the very time its previous op completed."""
    last: dict[object, int] = {}
    for op in history:
        if op.type == "invoke" and last.get(op.process) == op.time:
            return True
        last[op.process] = op.time
    return False


class TestAgainstOracle:
    @settings(max_examples=2000, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def test_agrees_with_brute_force(self, seed: int) -> None:
        """Small histories, perturbed or not, get the brute-force oracle's verdict."""
        history = perturbed(seed)
        validate_history(history)
        note(f"seed {seed}\n{format_history(history)}")
        expected = sequential_oracle(history)
        event(f"oracle says sequentially consistent: {expected}")

        assert expected == check_sequential(history).valid

    @settings(max_examples=300, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def test_linearizable_implies_sequential(self, seed: int) -> None:
        """Whatever the linearizability checker accepts, the sequential one accepts too (unless
        a process invoked an op at the very time its previous one completed: touching windows
        overlap for the linearizability search, not in process order)."""
        history = perturbed(seed)
        note(f"seed {seed}")
        assume(not touching(history))
        if check_linearizable(history).valid is True:
            assert True is check_sequential(history).valid

    def test_touching_ops_of_one_process(self, build: Build) -> None:
        """The one known difference: a read that ends when its process's write begins may see
        that write under the linearizability search's touching-windows rule, never in order."""
        history = build((0, "read", 1, 0, 10, "ok"), (0, "write", 1, 10, 20, "ok"))

        assert (True, False) == (check_linearizable(history).valid,
                                 check_sequential(history).valid)


class TestKnownCases:
    @pytest.mark.parametrize(
        ("rows", "expected"),
        [
            pytest.param([(0, "write", 1, 0, 10, "ok"), (0, "write", 2, 20, 30, "ok"),
                          (1, "read", 1, 40, 50, "ok")], True, id="stale-read-by-another"),
            pytest.param([(0, "read", 1, 0, 10, "ok"), (1, "write", 1, 20, 30, "ok")], True,
                         id="read-before-the-write-in-real-time"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (0, "write", 2, 20, 30, "ok"),
                          (0, "read", 1, 40, 50, "ok")], False, id="own-write-lost"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "write", 2, 0, 10, "ok"),
                          (2, "read", 1, 20, 30, "ok"), (2, "read", 2, 40, 50, "ok"),
                          (3, "read", 2, 20, 30, "ok"), (3, "read", 1, 40, 50, "ok")], False,
                         id="two-readers-disagree-on-the-order"),
            pytest.param([(0, "write", 0, 0, 5, "ok"), (1, "cas", [0, 1], 10, 20, "ok"),
                          (2, "cas", [0, 2], 10, 20, "ok")], False, id="cas-race-both-win"),
            pytest.param([(0, "write", 1, 0, 5, "info"), (0, "read", None, 10, 20, "ok"),
                          (1, "read", 1, 30, 40, "ok")], True,
                         id="info-write-lands-after-its-process-went-on"),
            pytest.param([(0, "read", 7, 0, 5, "ok")], False, id="value-nobody-wrote"),
        ],
    )
    def test_verdict(self, build: Build, rows: list[tuple[Any, ...]], expected: bool) -> None:
        """Hand-made histories get the verdict sequential consistency demands (and the oracle's)."""
        history = build(*rows)

        assert (expected, expected) == (check_sequential(history).valid,
                                        sequential_oracle(history))

    def test_counterexample_names_the_stuck_operations(self, build: Build) -> None:
        """A violation lists the prefix found and the operations that cannot come next."""
        history = build((0, "write", 1, 0, 10, "ok"), (0, "write", 2, 20, 30, "ok"),
                        (0, "read", 1, 40, 50, "ok"))

        result = check_sequential(history)
        found = result.details["counterexample"]

        assert ("sequential", 1, [2]) == (result.checker, found["prefix_length"],
                                          [o["index"] for o in found["failing"]])
        assert "not sequentially consistent" in result.lines[0]

    def test_budget_gives_unknown(self, build: Build) -> None:
        """A clock already past the deadline when the search starts gives unknown."""
        ticks = iter(range(0, 10**9, 10))

        result = check_sequential(build((0, "write", 1, 0, 10, "ok"),
                                        (1, "read", 1, 20, 30, "ok")),
                                  time_limit=3.5, clock=lambda: float(next(ticks)))

        assert UNKNOWN == result.valid

    def test_bad_operation_is_model_error(self, build: Build) -> None:
        """An f the register does not know is bad input, as for linearizability."""
        with pytest.raises(ModelError):
            check_sequential(build((0, "incr", 1, 0, 10, "ok")))


class TestScale:
    def test_many_processes_lagging_reads(self) -> None:
        """A 3,000-operation history of 50 processes on one key is decided (no blow-up)."""
        history = simulate_register(random.Random(11), RegisterWorkload(
            ops=3000, processes=50, keys=1, unique=True))

        assert True is check_sequential(history, time_limit=120).valid
