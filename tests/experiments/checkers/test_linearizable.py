"""The linearizability checker agrees with a brute-force oracle and with known cases."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from experiments.bench.checker import RegisterWorkload, simulate_register
from experiments.checkers import (
    UNKNOWN,
    ModelError,
    RegisterModel,
    SetModel,
    check_linearizable,
)
from experiments.history import (
    Op,
    Operation,
    OpType,
    client_operations,
    format_history,
    validate_history,
)

INFINITY = float("inf")


def canon(value: Any) -> str:
    """JSON text that tells 1, 1.0 and true apart (the checker's notion of equality)."""
    return json.dumps(value, sort_keys=True)


def oracle(history: list[Op]) -> bool:
    """Brute force: is there an order of the ops, per key, consistent with real time?

    Straight from the semantics: ok ops must be placed within their interval;
    fail ops are left out, except a cas failing with "mismatch", which must be
    placed and needs the value to differ from old; info (and pending) writes
    and cas may be placed anywhere after their invocation, or not at all; info
    reads are left out. Tries every order (memoized on the placed set).
    """
    keys: dict[str, list[Operation]] = {}
    for op in client_operations(history):
        keys.setdefault(canon(op.key), []).append(op)
    return all(_oracle_key(ops) for ops in keys.values())


Item = tuple[int, float, bool, tuple[str, str, str]]


def _oracle_step(action: tuple[str, str, str], state: str) -> tuple[bool, str]:
    kind, a, b = action
    if kind == "read":
        return state == a, state
    if kind == "write":
        return True, a
    if kind == "mismatch":
        return state != a, state
    return (True, b) if state == a else (False, state)


def _items(ops: list[Operation]) -> Iterator[Item]:
    for op in ops:
        end: float = INFINITY if op.end is None else op.end
        kind = op.type
        if op.f == "read":
            if kind == "ok":
                yield op.start, end, True, ("read", canon(op.value), "")
        elif op.f == "write":
            if kind != "fail":
                yield op.start, end, kind == "ok", ("write", canon(op.value), "")
        elif kind == "fail":
            if op.error == "mismatch":
                yield op.start, end, True, ("mismatch", canon(op.invoke.value[0]), "")
        else:
            old, new = canon(op.invoke.value[0]), canon(op.invoke.value[1])
            yield op.start, end, kind == "ok", ("cas", old, new)


def _oracle_key(ops: list[Operation]) -> bool:
    return linearizable_by_brute_force(list(_items(ops)), canon(None), _oracle_step)


def linearizable_by_brute_force(
    items: list[tuple[int, float, bool, Any]], init: Any, step: Callable[[Any, Any], Any]
) -> bool:
    """Try every order of the items consistent with real time (memoized on placed set).

    Items are (start, end, required, action); optional items may be left out.
    """
    required = {i for i, item in enumerate(items) if item[2]}
    seen: set[tuple[frozenset[int], Any]] = set()

    def place(placed: frozenset[int], state: Any) -> bool:
        if required <= placed:
            return True
        if (placed, state) in seen:
            return False
        seen.add((placed, state))
        for i, (start, _, _, action) in enumerate(items):
            if i in placed or any(j not in placed and items[j][1] < start
                                  for j in range(len(items))):
                continue
            ok, after = step(action, state)
            if ok and place(placed | {i}, after):
                return True
        return False

    return place(frozenset(), init)


def perturb(rng: random.Random, history: list[Op], values: int) -> list[Op]:
    """Break a history in one of several ways (the result may still be linearizable)."""
    ops = list(history)
    completions = [i for i, op in enumerate(ops) if op.type != "invoke"]
    if not completions:
        return ops
    i = rng.choice(completions)
    op = ops[i]
    invoke = max(j for j in range(i) if ops[j].process == op.process)
    choice = rng.randrange(5)
    if choice == 0 and op.f == "read":  # a read sees another value
        ops[i] = dataclasses.replace(op, type="ok", value=rng.choice([None, *range(values)]))
    elif choice == 1:  # the outcome changes
        ops[i] = dataclasses.replace(op, type=rng.choice(["ok", "info", "fail"]),
                                     error=rng.choice([None, "mismatch"]))
    elif choice == 2:  # the operation becomes instantaneous at its invocation
        ops[i] = dataclasses.replace(op, time=ops[invoke].time)
    elif choice == 3 and op.f == "write":  # the write disappears
        del ops[i], ops[invoke]
    elif choice == 4 and op.f == "write":  # the write wrote something else
        value = rng.randrange(values)
        ops[i] = dataclasses.replace(op, value=value)
        ops[invoke] = dataclasses.replace(ops[invoke], value=value)
    return [dataclasses.replace(o, index=n) for n, o in enumerate(ops)]


def small_history(seed: int, *, keys: int) -> tuple[random.Random, list[Op], int]:
    """A small, concurrent register history from a seeded simulated atomic register."""
    rng = random.Random(seed)
    spec = RegisterWorkload(
        ops=rng.randint(1, 12), processes=rng.randint(1, 5), keys=keys,
        values=rng.randint(2, 3), info_rate=rng.choice([0.0, 0.2, 0.5]),
        fail_rate=rng.choice([0.0, 0.2]), latency=(1, 10), think=5, pending_rate=0.5,
        nemesis_every=rng.choice([0, 4]),
    )
    return rng, simulate_register(rng, spec), spec.values


class TestAgainstOracle:
    @settings(max_examples=1500, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), keys=st.integers(1, 2))
    def test_simulated_histories_are_linearizable(self, seed: int, keys: int) -> None:
        """Histories of a simulated atomic register are valid, as the oracle agrees."""
        _, history, _ = small_history(seed, keys=keys)
        note(format_history(history))

        assert (True, True) == (oracle(history), check_linearizable(history).valid)

    @settings(max_examples=3000, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), keys=st.integers(1, 2), times=st.integers(1, 2))
    def test_perturbed_histories_agree_with_oracle(self, seed: int, keys: int,
                                                   times: int) -> None:
        """After changing a read, an outcome, a time or a write, checker and oracle agree."""
        rng, history, values = small_history(seed, keys=keys)
        for _ in range(times):
            history = perturb(rng, history, values)
        validate_history(history)
        note(format_history(history))
        expected = oracle(history)
        event(f"oracle says linearizable: {expected}")
        result = check_linearizable(history)

        assert expected == result.valid
        found = result.details.get("counterexample")
        if found and "reason" not in found and found["prefix_length"] == len(
                found["prefix_tail"]):
            event("counterexample prefix replayed")
            assert (True, found["state"]) == replay(found["prefix_tail"])


def replay(prefix: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether a reported prefix respects real time and the register, and its final state."""
    state = canon(None)
    for n, op in enumerate(prefix):
        done_before = [p for p in prefix[n + 1:] if p["type"] in ("ok", "fail")
                       and p["end"] < op["start"]]
        value = op["value"]
        if op["f"] == "read":
            action = ("read", canon(value), "")
        elif op["f"] == "write":
            action = ("write", canon(value), "")
        elif op["type"] == "fail":
            action = ("mismatch", canon(value[0]), "")
        else:
            action = ("cas", canon(value[0]), canon(value[1]))
        ok, state = _oracle_step(action, state)
        if done_before or not ok:
            return False, state
    return True, state


Build = Callable[..., list[Op]]


class TestKnownCases:
    @pytest.mark.parametrize(
        ("rows", "expected"),
        [
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "read", 1, 20, 30, "ok")], True,
                         id="read-after-write"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "read", None, 20, 30, "ok")], False,
                         id="stale-read"),
            pytest.param([(0, "read", 1, 0, 10, "ok"), (1, "write", 1, 20, 30, "ok")], False,
                         id="read-from-the-future"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "read", None, 5, 30, "ok")], True,
                         id="concurrent-read-sees-old"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (0, "write", 2, 20, 30, "ok"),
                          (1, "read", 1, 40, 50, "ok")], False, id="lost-write"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "write", 2, 0, 10, "ok"),
                          (2, "read", 2, 20, 30, "ok"), (3, "read", 1, 40, 50, "ok")], False,
                         id="real-time-reordering"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "write", 2, 0, 10, "ok"),
                          (2, "read", 1, 20, 30, "ok"), (3, "read", 1, 40, 50, "ok")], True,
                         id="concurrent-writes-either-order"),
            pytest.param([(0, "write", 1, 0, 10, "ok"), (1, "read", 1, 10, 20, "ok")], True,
                         id="touching-intervals-overlap"),
            pytest.param([(0, "write", 0, 0, 5, "ok"), (1, "cas", [0, 1], 10, 20, "ok"),
                          (2, "cas", [0, 2], 10, 20, "ok")], False, id="cas-race-both-win"),
            pytest.param([(0, "write", 0, 0, 5, "ok"), (1, "cas", [0, 1], 10, 20, "ok"),
                          (2, "cas", [0, 2], 10, 20, "fail", "x", "mismatch"),
                          (3, "read", 1, 30, 40, "ok")], True, id="cas-race-one-wins"),
            pytest.param([(0, "write", 0, 0, 5, "ok"), (1, "cas", [0, 1], 10, 20, "fail", "x",
                                                            "mismatch")], False,
                         id="mismatch-while-value-was-old"),
            pytest.param([(0, "write", 0, 0, 5, "ok"), (2, "write", 7, 8, 30, "ok"),
                          (1, "cas", [0, 1], 10, 20, "fail", "x", "mismatch")], True,
                         id="mismatch-explained-by-concurrent-write"),
            pytest.param([(0, "write", 0, 0, 5, "ok"), (2, "write", 7, 8, None, "info"),
                          (1, "cas", [0, 1], 10, 20, "fail", "x", "mismatch")], True,
                         id="mismatch-explained-by-pending-write"),
            pytest.param([(0, "cas", [None, 1], 0, 5, "fail"), (1, "read", 1, 10, 20, "ok")],
                         False, id="failed-cas-had-no-effect"),
            pytest.param([(0, "write", 1, 0, 5, "info"), (1, "read", 1, 100, 110, "ok")], True,
                         id="info-write-may-have-happened"),
            pytest.param([(0, "write", 1, 0, 5, "info"), (1, "read", None, 100, 110, "ok")], True,
                         id="info-write-may-not-have-happened"),
            pytest.param([(0, "write", 1, 0, 5, "info"), (1, "read", 1, 10, 20, "ok"),
                          (1, "read", None, 30, 40, "ok")], False,
                         id="info-write-cannot-be-undone"),
            pytest.param([(0, "write", 1, 50, 60, "info"), (1, "read", 1, 0, 10, "ok")], False,
                         id="info-write-not-before-its-invocation"),
            pytest.param([(0, "write", 1, 0, None, "info"), (1, "cas", [1, 2], 10, 20, "ok"),
                          (2, "read", 2, 30, 40, "ok")], True,
                         id="pending-write-must-have-happened-for-cas"),
            pytest.param([(0, "cas", [None, 3], 0, 5, "info"), (1, "write", 3, 6, 8, "info"),
                          (2, "read", 3, 10, 20, "ok")], True,
                         id="two-info-ops-either-explains"),
            pytest.param([(0, "read", 5, 0, 5, "info"), (1, "read", None, 10, 20, "ok")], True,
                         id="info-read-constrains-nothing"),
            pytest.param([(0, "write", 1, 0, 5, "fail"), (1, "read", 1, 10, 20, "ok")], False,
                         id="failed-write-had-no-effect"),
        ],
    )
    def test_verdict(self, build: Build, rows: list[tuple[Any, ...]], expected: bool) -> None:
        """Hand-made histories get the verdict their semantics demand (and the oracle's)."""
        history = build(*rows)

        assert (expected, expected) == (check_linearizable(history).valid, oracle(history))

    def test_keys_are_independent(self, build: Build) -> None:
        """Per-key registers: a write to y does not explain a read of x."""
        history = build((0, "write", 1, 0, 10, "ok", "y"), (1, "read", 1, 20, 30, "ok", "x"))

        result = check_linearizable(history)

        assert (False, '"x"') == (result.valid, result.details["counterexample"]["key"])

    def test_integer_one_is_not_true(self, build: Build) -> None:
        """Values compare as JSON: a read of true is not a read of 1."""
        history = build((0, "write", 1, 0, 10, "ok"), (1, "read", True, 20, 30, "ok"))

        assert False is check_linearizable(history).valid

    def test_nemesis_ops_are_ignored(self, build: Build) -> None:
        """Nemesis operations neither help nor hurt the verdict."""
        history = build((0, "write", 1, 0, 10, "ok"), (1, "read", 1, 20, 30, "ok"))
        nemesis = [Op(index=0, process="nemesis", type=t, f="start-partition", time=15)
                   for t in ("invoke", "info")]
        mixed = [dataclasses.replace(op, index=i)
                 for i, op in enumerate([*history[:2], *nemesis, *history[2:]])]

        result = check_linearizable(mixed)

        assert (True, 2) == (result.valid, result.details["operations"])

    def test_stale_read_is_explained_without_search(self, build: Build) -> None:
        """A read of an overwritten value names the read and the write that replaced it."""
        history = build((0, "write", 1, 0, 10, "ok"), (0, "write", 2, 20, 30, "ok"),
                        (1, "read", 1, 40, 50, "ok"))

        result = check_linearizable(history)
        found = result.details["counterexample"]

        assert (0, [4, 2], 0) == (found["prefix_length"],
                                  [o["index"] for o in found["failing"]], result.details["states"])
        assert "certainly replaced" in result.lines[0]

    def test_counterexample_names_prefix_and_failing_op(self, build: Build) -> None:
        """When only a search refutes a history, the longest prefix and the op that cannot
        follow it are reported, one line each."""
        history = build((0, "write", 1, 0, 10, "ok"), (1, "write", 2, 0, 10, "ok"),
                        (2, "read", 2, 20, 30, "ok"), (3, "read", 1, 40, 50, "ok"))

        result = check_linearizable(history)
        found = result.details["counterexample"]

        assert (3, "2", [6]) == (found["prefix_length"], found["state"],
                                 [o["index"] for o in found["failing"]])
        assert any("read" in line and "[40 .. 50]" in line for line in result.lines)

    def test_unknown_model_operation_is_bad_input(self, build: Build) -> None:
        """An f the register does not know is a ModelError naming the op and field."""
        history = build((0, "incr", 1, 0, 10, "ok"))

        with pytest.raises(ModelError) as caught:
            check_linearizable(history)

        assert (0, "f") == (caught.value.index, caught.value.field)

    def test_malformed_cas_is_bad_input(self, build: Build) -> None:
        """A cas whose value is not [old, new] is a ModelError on its value."""
        history = build((0, "cas", 3, 0, 10, "ok"))

        with pytest.raises(ModelError) as caught:
            check_linearizable(history)

        assert "value" == caught.value.field


def crowded_history(build: Build, writers: int) -> list[Op]:
    """Concurrent writes of distinct values, then reads of two of them in turn.

    Not linearizable, but the search only learns that after trying the
    writers' orders: about ``writers * 2**writers`` configurations.
    """
    writes = [(p, "write", p, 0, 100, "ok") for p in range(writers)]
    reads = [(writers, "read", 0, 200, 210, "ok"), (writers, "read", 1, 220, 230, "ok")]
    return build(*writes, *reads)


class TestBudget:
    def test_exhausted_clock_gives_unknown(self, build: Build) -> None:
        """When the injected clock passes the deadline mid-search, the verdict is unknown."""
        ticks = iter(range(10**9))

        result = check_linearizable(crowded_history(build, 12), time_limit=3.5,
                                    clock=lambda: float(next(ticks)))

        assert UNKNOWN == result.valid
        assert "time budget" in result.details["reason"]

    def test_generous_clock_decides(self, build: Build) -> None:
        """With a clock that never advances, the same history is decided: invalid."""
        result = check_linearizable(crowded_history(build, 12), time_limit=1.0, clock=lambda: 0.0)

        assert False is result.valid

    def test_state_limit_gives_unknown(self, build: Build) -> None:
        """A memo limit also ends the search as unknown, never as a guess."""
        result = check_linearizable(crowded_history(build, 8), max_states=3)

        assert UNKNOWN == result.valid

    def test_impossible_read_needs_no_search(self, build: Build) -> None:
        """A read of a value nobody wrote is refuted at once, even in a crowd."""
        history = build(*[(p, "write", p, 0, 100, "ok") for p in range(40)],
                        (40, "read", 99, 200, 210, "ok"))

        result = check_linearizable(history, time_limit=1.0, clock=lambda: 0.0)

        assert (False, 0, 0) == (result.valid, result.details["states"],
                                 result.details["counterexample"]["prefix_length"])


class TestSetModel:
    @pytest.mark.parametrize(
        ("rows", "expected"),
        [
            pytest.param([(0, "add", 1, 0, 10, "ok"), (1, "read", [1], 20, 30, "ok")], True,
                         id="read-after-add"),
            pytest.param([(0, "add", 1, 0, 10, "ok"), (1, "read", [], 20, 30, "ok")], False,
                         id="lost-add"),
            pytest.param([(0, "add", 1, 0, 10, "ok"), (1, "add", 2, 0, 10, "ok"),
                          (2, "read", [2], 5, 8, "ok"), (3, "read", [1], 5, 8, "ok")], False,
                         id="reads-disagree-on-order"),
            pytest.param([(0, "add", 1, 0, 10, "info"), (1, "read", [1], 20, 30, "ok"),
                          (2, "read", [1], 40, 50, "ok")], True, id="info-add-recovered"),
            pytest.param([(0, "add", 1, 0, 10, "info"), (1, "read", [1], 20, 30, "ok"),
                          (2, "read", [], 40, 50, "ok")], False, id="info-add-undone"),
        ],
    )
    def test_verdict(self, build: Build, rows: list[tuple[Any, ...]], expected: bool) -> None:
        """The linearizable set model: each read sees exactly the adds placed before it."""
        assert expected == check_linearizable(build(*rows), SetModel()).valid


class TestRegisterModel:
    def test_info_write_nobody_observes_is_dropped(self, build: Build) -> None:
        """An info write of a value no one reads needs no search."""
        ops = client_operations(build((0, "write", 9, 0, 5, "info"),
                                      (1, "read", None, 10, 20, "ok")))

        assert [True] == [c.required for c in RegisterModel().prepare(ops)]

    def test_info_write_window_ends_with_its_last_observer(self, build: Build) -> None:
        """An observed info write may only be placed until its last observer completes."""
        ops = client_operations(build((0, "write", 9, 0, 5, "info"),
                                      (1, "read", 9, 10, 20, "ok"),
                                      (1, "read", 9, 30, 40, "ok")))

        assert [(40, False)] == [(c.end, c.required) for c in RegisterModel().prepare(ops)
                                 if not c.required]


def _set_step(action: tuple[bool, Any], state: frozenset[Any]) -> tuple[bool, frozenset[Any]]:
    is_add, what = action
    return (True, state | {what}) if is_add else (state == what, state)


def set_oracle(history: list[Op]) -> bool:
    """Brute force for one set: ok adds and reads placed, info adds optional."""
    items: list[tuple[int, float, bool, Any]] = []
    for op in client_operations(history):
        end: float = INFINITY if op.end is None else op.end
        if op.f == "add" and op.type != "fail":
            items.append((op.start, end, op.type == "ok", (True, op.value)))
        elif op.f == "read" and op.type == "ok":
            items.append((op.start, end, True, (False, frozenset(op.value))))
    return linearizable_by_brute_force(items, frozenset(), _set_step)


def simulate_set(rng: random.Random, processes: int, ops: int) -> list[Op]:
    """An atomic set: each add takes effect at one instant in its interval (info: maybe
    later or never); a read returns what took effect before its own instant."""
    clock = dict.fromkeys(range(processes), 0)
    calls = []
    for n in range(ops):
        process = rng.randrange(processes)
        start = clock[process] + rng.randint(0, 3)
        end = start + rng.randint(0, 8)
        clock[process] = end
        outcome: OpType = rng.choice(["ok", "ok", "ok", "info", "fail"])
        effect = rng.uniform(start, end + (8 if outcome == "info" else 0))
        happens = outcome == "ok" or (outcome == "info" and rng.random() < 0.5)
        calls.append((process, rng.random() < 0.5, n, start, end, outcome, effect, happens))
    added = [(effect, n) for _, is_add, n, _, _, _, effect, happens in calls
             if is_add and happens]
    lines: list[tuple[int, int, Op]] = []
    for process, is_add, n, start, end, outcome, effect, _ in calls:
        f, value = ("add", n) if is_add else ("read", None)
        kind: OpType = outcome if is_add or outcome == "fail" else "ok"
        lines.append((start, 2 * n, Op(index=0, process=process, type="invoke", f=f, key="s",
                                       value=value, time=start)))
        seen: Any = value
        if not is_add and kind == "ok":
            seen = sorted(e for t, e in added if t < effect)
        lines.append((end, 2 * n + 1, Op(index=0, process=process, type=kind, f=f, key="s",
                                         value=seen, time=end)))
    ordered = [op for _, _, op in sorted(lines, key=lambda line: line[:2])]
    return [dataclasses.replace(op, index=i) for i, op in enumerate(ordered)]


class TestSetModelAgainstOracle:
    @settings(max_examples=800, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), broken=st.booleans())
    def test_agrees_with_brute_force(self, seed: int, broken: bool) -> None:
        """Simulated set histories, some with one read changed, get the oracle's verdict."""
        rng = random.Random(seed)
        history = simulate_set(rng, processes=rng.randint(1, 4), ops=rng.randint(1, 9))
        reads = [i for i, op in enumerate(history) if op.f == "read" and op.type == "ok"]
        if broken and reads:
            i = rng.choice(reads)
            elements = set(history[i].value) ^ {rng.randrange(10)}
            history[i] = dataclasses.replace(history[i], value=sorted(elements))
        validate_history(history)
        note(format_history(history))
        expected = set_oracle(history)
        event(f"oracle says linearizable: {expected}")

        assert expected == check_linearizable(history, SetModel()).valid
