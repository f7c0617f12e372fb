"""Workloads as plain data plus pure operation generators (Jepsen's generators, small).

Rules: no IO, no clocks; randomness only from an injected ``random.Random``.
A generator hands out the next operation for a free process; the backend
executes it and records the history.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from typing import Any


class WorkloadKind(enum.StrEnum):
    """The workloads the runner knows."""

    REGISTER = "register"
    """read / write / cas over a few keys; checked for linearizability."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadSpec:
    """What clients do. Times in milliseconds."""

    kind: WorkloadKind = WorkloadKind.REGISTER
    processes: int = 5
    """Concurrent client processes (each has at most one operation outstanding)."""
    keys: int = 3
    read_weight: int = 2
    write_weight: int = 2
    cas_weight: int = 1
    values: int = 5
    """With ``unique_values`` off: written values are drawn from 0..values-1 (small, so
    cas often matches, as in Jepsen's register test)."""
    unique_values: bool = True
    """Every write and cas writes a value never written before, and a cas expects the
    value its process last saw for the key (optimistic concurrency). A lost or
    resurrected write then shows as a value no later read can explain, where with a
    few small values it would hide behind another write of the same number."""
    think_ms: float = 10.0
    """Mean pause between one process's operations (exponentially distributed)."""
    timeout_ms: float = 1000.0
    """A client gives up on an operation after this long: ``info`` (or ``fail`` for reads)."""

    def __post_init__(self) -> None:
        for name in ("processes", "keys", "values"):
            if getattr(self, name) < 1:
                msg = f"workload.{name} must be at least 1, got {getattr(self, name)}"
                raise ValueError(msg)
        weights = (self.read_weight, self.write_weight, self.cas_weight)
        if min(weights) < 0 or sum(weights) == 0:
            msg = f"workload weights must be >= 0 and not all 0, got {weights}"
            raise ValueError(msg)
        if self.think_ms < 0 or self.timeout_ms <= 0:
            msg = "workload.think_ms must be >= 0 and workload.timeout_ms > 0"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpRequest:
    """An operation to invoke: ``f`` on ``key`` with ``value`` (history conventions)."""

    f: str
    key: str
    value: Any


class RegisterGenerator:
    """Draws register operations: reads, writes of small ints, cas [old, new]."""

    def __init__(self, spec: WorkloadSpec, rng: random.Random) -> None:
        self._spec = spec
        self._rng = rng
        self._keys = [f"k{i}" for i in range(spec.keys)]
        self._fs = ("read", "write", "cas")
        self._weights = (spec.read_weight, spec.write_weight, spec.cas_weight)
        self._next_value = 0
        self._seen: dict[str, Any] = {}
        """The latest value observed per key (unique values: what a cas expects)."""

    def observe(self, key: str, value: Any) -> None:
        """Tell the generator what a completed operation saw or wrote on ``key``."""
        self._seen[key] = value

    def _fresh(self) -> int:
        value = self._next_value
        self._next_value += 1
        return value

    def next_op(self) -> OpRequest:
        """The next operation to invoke."""
        rng = self._rng
        f = rng.choices(self._fs, self._weights)[0]
        key = rng.choice(self._keys)
        if f == "read":
            return OpRequest(f=f, key=key, value=None)
        if self._spec.unique_values:
            if f == "write":
                return OpRequest(f=f, key=key, value=self._fresh())
            return OpRequest(f=f, key=key, value=[self._seen.get(key), self._fresh()])
        values = self._spec.values
        if f == "write":
            return OpRequest(f=f, key=key, value=rng.randrange(values))
        return OpRequest(f=f, key=key, value=[rng.randrange(values), rng.randrange(values)])

    def think_ns(self) -> int:
        """How long a process waits before its next operation, in nanoseconds."""
        mean = self._spec.think_ms
        return int(self._rng.expovariate(1.0 / mean) * 1e6) if mean > 0 else 0
