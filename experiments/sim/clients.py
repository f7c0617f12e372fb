"""Simulated client processes: run a workload against a ``SimCluster``, record a history.

Rules: one operation outstanding per process; every random draw from the
injected ``random.Random``. A client behaves as the real one does: it sends reads to its own
node (a follower forwards ReadIndex to the leader) and writes to the node it
believes leads, follows NOT_LEADER hints, retries with exponential
back-off and full jitter inside the operation's total deadline, reuses one
session sequence number across an operation's attempts (so a retried write
applies once), and reports honestly: ``ok``; ``fail`` only when no attempt can
have taken effect (or a cas found another value: ``error: mismatch``); ``info``
when the outcome is unknown. A read that times out is a ``fail``: reads change
nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from experiments.history import Op
from experiments.sim.cluster import SimCluster
from experiments.sim.events import NS_PER_MS, Scheduler, Timer
from experiments.workload import RegisterGenerator, WorkloadSpec
from nodes.kv import Cas, Command, Mismatch, Ok, Put
from nodes.raft import NO_NODE, NotLeader, ProposalDropped
from nodes.replica import (
    Applied,
    NotApplied,
    ProposalOutcome,
    ReadDone,
    ReadFailed,
    ReadOutcome,
    Unknown,
)

ATTEMPT_TIMEOUT_MS = 300
"""One attempt's deadline; the operation's total deadline is the workload's timeout."""
BACKOFF_BASE_MS = 5
BACKOFF_CAP_MS = 100
CLIENT_LATENCY_MS = (0.2, 1.0)
"""Client <-> node one-way delay bounds. Clients reach every node (partitions cut
peer links only, as in Jepsen); message loss hits client links too."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _NotLeaderReply:
    hint: int


Reply = ProposalOutcome | ReadOutcome | _NotLeaderReply


class HistoryRecorder:
    """Appends history ops with consecutive indexes."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def add(self, **fields: Any) -> None:
        """Record one op (fields as in ``experiments.history.Op``, less ``index``)."""
        self.ops.append(Op(index=len(self.ops), **fields))


@dataclass(slots=True)
class _Pending:
    """One process's outstanding operation."""

    f: str
    key: str
    value: Any
    invoked: int
    deadline: int
    seq: int
    attempt: int = 0
    maybe_applied: bool = False
    timer: Timer | None = None
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class SimClients:
    """Runs ``spec.processes`` client processes until ``stop_at`` (simulated ns).

    Args:
        cluster: the cluster to talk to.
        spec: the workload.
        rng: the only source of randomness.
        history: where operations are recorded.
        stop_at: no operation is invoked at or after this time.
    """

    def __init__(
        self,
        cluster: SimCluster,
        spec: WorkloadSpec,
        rng: random.Random,
        history: HistoryRecorder,
        *,
        stop_at: int,
    ) -> None:
        self.cluster = cluster
        self.scheduler: Scheduler = cluster.scheduler
        self.spec = spec
        self.rng = rng
        self.history = history
        self.stop_at = stop_at
        self.generator = RegisterGenerator(spec, rng)
        nodes = cluster.voters
        self._homes = {p: nodes[p % len(nodes)] for p in range(spec.processes)}
        """Each process's own node: it starts every read there (followers forward
        ReadIndex to the leader), as clients spread over all members do."""
        self._targets = dict(self._homes)
        """Where the process sends its next attempt (writes: the leader it believes in)."""
        self._leaders = dict(self._homes)
        self._seqs = dict.fromkeys(range(spec.processes), 0)
        self._pending: dict[int, _Pending] = {}

    def start(self) -> None:
        """Schedule every process's first operation."""
        for process in range(self.spec.processes):
            self.scheduler.call_later(self.generator.think_ns(), partial(self._invoke, process))

    @property
    def outstanding(self) -> int:
        """Operations invoked and not yet completed."""
        return len(self._pending)

    # ---- one operation ------------------------------------------------------

    def _invoke(self, process: int) -> None:
        now = self.scheduler.now
        if now >= self.stop_at:
            return
        request = self.generator.next_op()
        self._seqs[process] += 1
        op = _Pending(
            f=request.f,
            key=request.key,
            value=request.value,
            invoked=now,
            deadline=now + int(self.spec.timeout_ms * NS_PER_MS),
            seq=self._seqs[process],
        )
        self._pending[process] = op
        self._targets[process] = self._homes[process] if op.f == "read" else self._leaders[process]
        self.history.add(
            process=process, type="invoke", f=op.f, key=op.key, value=op.value, time=now
        )
        self._attempt(process, op)

    def _attempt(self, process: int, op: _Pending) -> None:
        if op.done:
            return  # a late answer to an earlier attempt completed it meanwhile
        now = self.scheduler.now
        if now >= op.deadline:
            self._give_up(process, op, "timeout")
            return
        op.attempt += 1
        attempt = op.attempt
        target = self._targets[process]
        attempt_end = min(op.deadline, now + ATTEMPT_TIMEOUT_MS * NS_PER_MS)
        op.timer = self.scheduler.call_at(
            attempt_end, lambda: self._attempt_timed_out(process, op, attempt)
        )
        if not self._lost():
            self.scheduler.call_later(
                self._latency(), lambda: self._arrive(process, op, attempt, target)
            )

    def _arrive(self, process: int, op: _Pending, attempt: int, node_id: int) -> None:
        """The request reaches ``node_id``; a crashed or paused node never answers."""
        replica = self.cluster.replica(node_id)
        if replica is None or op.done:
            return

        def reply(outcome: Reply) -> None:
            if self._lost():
                return
            self.scheduler.call_later(
                self._latency(), lambda: self._reply(process, op, attempt, node_id, outcome)
            )

        try:
            if op.f == "read":
                replica.read(op.key, reply)
            else:
                replica.propose(self._command(process, op), reply)
        except NotLeader as exc:
            reply(_NotLeaderReply(hint=exc.leader_hint))
            return
        except ProposalDropped:
            reply(_NotLeaderReply(hint=NO_NODE))
            return
        self.cluster.pump(node_id)

    def _command(self, process: int, op: _Pending) -> Command:
        client_id = f"sim-{process}"
        if op.f == "write":
            return Put(key=op.key, value=str(op.value), client_id=client_id, seq=op.seq)
        old, new = op.value
        expected = None if old is None else str(old)
        return Cas(key=op.key, expected=expected, new=str(new), client_id=client_id, seq=op.seq)

    def _reply(
        self, process: int, op: _Pending, attempt: int, node_id: int, outcome: Reply
    ) -> None:
        if op.done:
            return
        if attempt != op.attempt and not isinstance(outcome, Applied | ReadDone):
            # A late answer to an earlier attempt is still an answer for this operation
            # (same session seq), but only a definite one is worth acting on.
            return
        match outcome:
            case Applied(result=Ok()):
                self._leaders[process] = node_id
                self._complete(process, op, "ok", op.value, node_id)
            case Applied(result=Mismatch()) if op.f == "cas":
                self._complete(process, op, "fail", op.value, node_id, error="mismatch")
            case Applied(result=result):
                op.maybe_applied = True
                self._retry(process, op, f"unexpected result {type(result).__name__}")
            case ReadDone(value=value):
                self._complete(process, op, "ok", None if value is None else int(value), node_id)
            case _NotLeaderReply(hint=hint):
                self._targets[process] = hint if hint != NO_NODE else self._next_node(node_id)
                if op.f != "read":
                    self._leaders[process] = self._targets[process]
                self._retry(process, op, "not leader")
            case NotApplied() | ReadFailed():
                self._targets[process] = self._next_node(node_id)
                self._retry(process, op, "rejected")
            case Unknown():
                op.maybe_applied = True
                self._targets[process] = self._next_node(node_id)
                self._retry(process, op, "unknown")

    def _attempt_timed_out(self, process: int, op: _Pending, attempt: int) -> None:
        if op.done or attempt != op.attempt:
            return
        if op.f != "read":
            op.maybe_applied = True
        self._targets[process] = self._next_node(self._targets[process])
        self._retry(process, op, "attempt timed out")

    def _retry(self, process: int, op: _Pending, reason: str) -> None:
        if op.timer is not None:
            op.timer.cancel()
        op.extra["last_error"] = reason
        cap = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** min(op.attempt, 10))
        delay = int(self.rng.uniform(0, cap) * NS_PER_MS)
        attempt = op.attempt
        self.scheduler.call_later(
            delay, lambda: self._attempt(process, op) if attempt == op.attempt else None
        )

    def _give_up(self, process: int, op: _Pending, reason: str) -> None:
        if op.f == "read" or not op.maybe_applied:
            self._complete(process, op, "fail", op.value, None, error=reason)
        else:
            self._complete(process, op, "info", op.value, None, error=reason)

    def _complete(
        self,
        process: int,
        op: _Pending,
        type_: str,
        value: Any,
        node_id: int | None,
        *,
        error: str | None = None,
    ) -> None:
        op.done = True
        if op.timer is not None:
            op.timer.cancel()
        del self._pending[process]
        if type_ == "ok":
            self.generator.observe(op.key, value[1] if op.f == "cas" else value)
        self.history.add(
            process=process,
            type=type_,
            f=op.f,
            key=op.key,
            value=value,
            time=self.scheduler.now,
            error=error,
            node=None if node_id is None else f"n{node_id}",
        )
        self.scheduler.call_later(self.generator.think_ns(), lambda: self._invoke(process))

    # ---- helpers --------------------------------------------------------------

    def _lost(self) -> bool:
        """Client links lose messages like peer links do (a loss fault hits both)."""
        drop = self.cluster.network.default.drop
        return drop > 0 and self.rng.random() < drop

    def _latency(self) -> int:
        low, high = CLIENT_LATENCY_MS
        return int(self.rng.uniform(low, high) * NS_PER_MS)

    def _next_node(self, node_id: int) -> int:
        nodes = self.cluster.voters
        return nodes[(nodes.index(node_id) + 1) % len(nodes)] if node_id in nodes else nodes[0]
