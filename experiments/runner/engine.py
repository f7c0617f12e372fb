"""The run itself: clients, the fault schedule, the status watcher and the final reads,
scheduled on a backend's loop.

Rules: everything runs as callbacks on the ``Loop`` the backend provides; nothing here
blocks or sleeps (blocking cluster calls go through ``Loop.run_blocking``), and nothing
reads a real clock, so on the simulator a seed gives a byte-identical history. Every
random draw comes from a ``random.Random`` derived from the run's seed. Every fault that
was applied is undone, whatever happens; the runner also heals the cluster afterwards.

A run's phases: ``workload`` (clients invoke operations until ``duration``; faults start
and end on schedule), ``drain`` (no new operations; outstanding ones finish within their
deadline), ``final-reads`` (one client per node reads every key; while the nodes' answers
disagree, as replicas of the weaker consistency modes may until anti-entropy caught up, or
some node could not answer yet, as a node just back from the minority side may not,
another round every ``FINAL_POLL_NS``, for at most ``FINAL_POLL_LIMIT_NS``: the
convergence the eventual checker measures), ``done``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog

from experiments.backends.base import (
    ClientSettings,
    Cluster,
    Loop,
    NodeId,
    NodeState,
    OpClient,
    OpDone,
    ResolvedFault,
    node_label,
)
from experiments.runner.faults import resolve
from experiments.runner.plan import RunPlan
from experiments.runner.record import Recorder
from experiments.runner.watch import changes
from experiments.schedule import FaultSpec, NemesisKind
from experiments.workload import OpRequest, RegisterGenerator
from nodes.client.policy import BreakerPolicy, BreakerState, ClientPolicy, RetryPolicy

_log = structlog.get_logger()
NS_PER_S = 1_000_000_000
DRAIN_SLACK_NS = NS_PER_S
"""Beyond the operation deadline, how long the drain waits for stragglers."""
FINAL_POLL_NS = NS_PER_S // 10
"""Between two rounds of final reads while the nodes disagree."""
FINAL_POLL_LIMIT_NS = 10 * NS_PER_S
"""How long final reads go on polling disagreeing nodes (the eventual checker's bound)."""


@dataclass(slots=True)
class FaultRecord:
    """One fault window as it happened."""

    spec: FaultSpec
    resolved: ResolvedFault | None = None
    started: int | None = None
    ended: int | None = None
    handle: Any = None
    error: str | None = None
    before: dict[NodeId, dict[NodeId, int]] = field(default_factory=dict)
    """Undelivered-message counters per node when it started (see ``NodeState``)."""
    after: dict[NodeId, dict[NodeId, int]] = field(default_factory=dict)
    """... and just before it was undone."""
    applying: bool = False
    end_due: bool = False
    undoing: bool = False
    probes: dict[tuple[NodeId, NodeId], float | None] = field(default_factory=dict)
    """Round trips of probes sent across some links right after the fault was applied
    (None: no answer): links it cut, and one it did not, as a control."""


@dataclass(slots=True)
class Progress:
    """What a live display shows, updated as the run goes."""

    phase: str = "starting"
    now_s: float = 0.0
    invoked: int = 0
    ok: int = 0
    fail: int = 0
    info: int = 0
    faults: list[str] = field(default_factory=list)
    leader: str | None = None
    term: int | None = None


def client_policy(plan: RunPlan) -> ClientPolicy:
    """The recorded clients' policy from ``workload.client`` (retries and breaker)."""
    workload = plan.experiment.workload
    retry = workload.client.retry
    breaker = workload.client.breaker
    return ClientPolicy(
        routing=workload.routing,
        retry=RetryPolicy(
            timeout_s=workload.timeout,
            attempt_timeout_s=retry.attempt_timeout,
            adaptive_attempt_timeout=retry.adaptive_attempt_timeout,
            backoff_base_s=retry.backoff_base,
            backoff_max_s=max(retry.backoff_max, retry.backoff_base),
            max_attempts=retry.max_attempts,
        ),
        breaker=None
        if breaker is None
        else BreakerPolicy(failures=breaker.failures, open_s=breaker.open, probes=breaker.probes),
    )


PROBED_LINKS = 3
"""How many cut links a fault's probe samples (plus one uncut link as a control)."""


def probe_links(fault: ResolvedFault | None, nodes: tuple[NodeId, ...]) -> list[
        tuple[NodeId, NodeId]]:
    """The links to probe right after ``fault`` was applied: a few it cut and one it did
    not (partitions), or a few links (latency, bandwidth); none for process faults and
    loss (whose cuts come and go)."""
    if fault is None:
        return []
    every = [(a, b) for a in nodes for b in nodes if a != b]
    if fault.grudge is not None:
        cut = [(link.src, link.dst) for link in fault.grudge.links()]
        control = [link for link in every if link not in set(cut)]
        return cut[:PROBED_LINKS] + control[:1]
    if fault.kind in (NemesisKind.LATENCY, NemesisKind.BANDWIDTH):
        return every[:PROBED_LINKS]  # jitter varies each probe: the slowest one shows it
    return []


def _history_value(request: OpRequest, done: OpDone) -> Any:
    """What a completion line records as its value (the history's conventions)."""
    if done.type != "ok" or request.f != "read":
        return request.value
    value = done.value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


class Engine:
    """Runs one plan on one cluster (see the module docstring).

    Args:
        plan: what to run.
        cluster: where; it must be started.
        poll_interval_s: how often the watcher reads every node's status.
        on_progress: told about progress after every status reading.
    """

    def __init__(
        self,
        plan: RunPlan,
        cluster: Cluster,
        *,
        poll_interval_s: float,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.plan = plan
        self.cluster = cluster
        self.record = Recorder()
        self.faults = [FaultRecord(spec=spec) for spec in plan.faults]
        self.progress = Progress()
        self.fault_errors: list[str] = []
        self._poll_ns = max(1, int(poll_interval_s * NS_PER_S))
        self._on_progress = on_progress
        seed = plan.seed
        self._nemesis_rng = random.Random(f"{seed}:nemesis")
        self._generator = RegisterGenerator(plan.generator_spec(), random.Random(f"{seed}:clients"))
        self._policy = client_policy(plan)
        nodes = cluster.node_ids
        workload = plan.experiment.workload
        self.homes = {p: nodes[p % len(nodes)] for p in range(workload.clients)}
        self._clients: dict[int, OpClient] = {}
        self._outstanding: set[int] = set()
        self._view: dict[NodeId, NodeState] = {}
        self._leader: tuple[NodeId, int] | None = None
        self._polling = False
        self._stopping = False
        self._final_queue: dict[int, list[str]] = {}
        self._final_seen: dict[str, dict[NodeId, Any]] = {}
        """This round's ok final reads: key -> node -> value."""
        self._final_nodes: set[NodeId] = set()
        """The nodes this round's readers are bound to."""
        self._final_started = 0
        self._finished: Callable[[], None] = lambda: None
        self._loop: Loop | None = None
        self.done = False

    # ---- the program ------------------------------------------------------------

    @property
    def loop(self) -> Loop:
        """The loop the run executes on."""
        assert self._loop is not None, "the engine runs only inside Cluster.execute"
        return self._loop

    def program(self, loop: Loop, finished: Callable[[], None]) -> None:
        """Schedule the whole run on ``loop`` (``Cluster.execute`` calls this)."""
        self._loop = loop
        self._finished = finished
        self._phase("workload")
        self._poll()
        for process, home in self.homes.items():
            self._clients[process] = self.cluster.client(
                ClientSettings(
                    process=process,
                    home=home,
                    policy=self._policy,
                    seed=self.plan.seed * 1000 + process,
                    client_id=f"run{self.plan.seed}-p{process}",
                    on_breaker=self._breaker_listener(process),
                )
            )
            loop.call_later(self._generator.think_ns(), partial(self._invoke, process))
        for record in self.faults:
            loop.call_at(int(record.spec.at_s * NS_PER_S), partial(self._start_fault, record))
        loop.call_at(int(self.plan.duration_s * NS_PER_S), self._stop_workload)

    def close(self) -> None:
        """Release the clients (after ``execute`` returned)."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _phase(self, phase: str) -> None:
        self.progress.phase = phase
        self.record.event(self.loop.now(), "phase", phase=phase)

    # ---- clients ------------------------------------------------------------------

    def _breaker_listener(self, process: int) -> Callable[[NodeId, BreakerState], None]:
        def changed(node: NodeId, state: BreakerState) -> None:
            self.record.event(
                self.loop.now(), "breaker", process=process, node=node_label(node),
                state=state.value,
            )

        return changed

    def _invoke(self, process: int, request: OpRequest | None = None, **extra: Any) -> None:
        if self._stopping and request is None:
            return
        request = request or self._generator.next_op()
        self._outstanding.add(process)
        self.progress.invoked += 1
        home = node_label(self.homes[process])
        self.record.op(
            process=process, type="invoke", f=request.f, key=request.key, value=request.value,
            time=self.loop.now(), node=home, **extra,
        )
        self._clients[process].invoke(
            request, lambda done: self._complete(process, request, done, extra)
        )

    def _complete(
        self, process: int, request: OpRequest, done: OpDone, extra: dict[str, Any]
    ) -> None:
        if process not in self._outstanding:
            return  # completed already (a client must answer once; be safe)
        self._outstanding.discard(process)
        value = _history_value(request, done)
        node = node_label(done.node if done.node is not None else self.homes[process])
        self.record.op(
            process=process, type=done.type, f=request.f, key=request.key, value=value,
            time=self.loop.now(), error=done.error, node=node, **extra,
        )
        counts = self.progress
        if done.type == "ok":
            counts.ok += 1
            self._generator.observe(request.key, value[1] if request.f == "cas" else value)
        elif done.type == "fail":
            counts.fail += 1
        else:
            counts.info += 1
        if extra.get("final"):
            if done.type == "ok":
                self._final_seen.setdefault(request.key, {})[self.homes[process]] = value
            self._next_final(process)
        elif not self._stopping:
            self.loop.call_later(self._generator.think_ns(), lambda: self._invoke(process))
        elif not self._outstanding:
            self._final_reads()

    def _stop_workload(self) -> None:
        self._stopping = True
        self._phase("drain")
        deadline = int(self.plan.experiment.workload.timeout * NS_PER_S) + DRAIN_SLACK_NS
        self.loop.call_later(deadline, self._drain_timeout)
        if not self._outstanding:
            self._final_reads()

    def _drain_timeout(self) -> None:
        if self.progress.phase == "drain":
            _log.warning("run.drain_timeout", outstanding=sorted(self._outstanding))
            self._final_reads()

    def _final_reads(self) -> None:
        if self.progress.phase != "drain":
            return
        self._phase("final-reads")
        if not self.plan.experiment.workload.final_reads:
            self._finish()
            return
        self._final_started = self.loop.now()
        self._final_round()

    def _final_round(self) -> None:
        """One client per node reads every key (see the module docstring)."""
        self._final_seen = {}
        keys = [f"k{i}" for i in range(self.plan.experiment.workload.keys)]
        readers: dict[NodeId, int] = {}
        for process, home in sorted(self.homes.items()):
            if process not in self._outstanding:
                readers.setdefault(home, process)
        self._final_queue = {p: list(keys) for p in readers.values()}
        self._final_nodes = set(readers)
        if not self._final_queue:
            self._finish()
            return
        for process in list(self._final_queue):
            self._next_final(process)

    def _next_final(self, process: int) -> None:
        queue = self._final_queue.get(process)
        if queue:
            key = queue.pop(0)
            self._invoke(process, OpRequest(f="read", key=key, value=None), final=True)
            return
        self._final_queue.pop(process, None)
        if self._final_queue:
            return
        waited = self.loop.now() - self._final_started
        if self._final_disagree() and waited + FINAL_POLL_NS <= FINAL_POLL_LIMIT_NS:
            self.loop.call_later(FINAL_POLL_NS, self._final_round)
            return
        self._finish()

    def _final_disagree(self) -> bool:
        """Whether two nodes' ok final reads of some key returned different values, or some
        node's final read of a key did not succeed this round."""
        keys = self.plan.experiment.workload.keys
        seen = self._final_seen
        if len(seen) < keys or any(set(by_node) != self._final_nodes for by_node in seen.values()):
            return True
        return any(len({repr(v) for v in by_node.values()}) > 1 for by_node in seen.values())

    def _finish(self) -> None:
        if self.done:
            return
        pending = [r for r in self.faults if r.started is not None and r.ended is None]
        for record in pending:  # a fault outlived the run (it should not): end it first
            record.end_due = True
            self._end_fault(record)
        if pending or any(r.undoing or r.applying for r in self.faults):
            self.loop.call_later(NS_PER_S // 10, self._finish)
            return
        self._phase("done")
        self.done = True
        self._finished()

    # ---- faults --------------------------------------------------------------------

    def _start_fault(self, record: FaultRecord) -> None:
        fault_id = self.faults.index(record)
        record.applying = True

        def resolved_with(states: list[NodeState] | BaseException) -> None:
            reading = list(self._view.values()) if isinstance(states, BaseException) else states
            busy = frozenset(
                node
                for other in self.faults
                if other.undoing and other.resolved is not None
                for node in other.resolved.targets
            )
            fault = resolve(fault_id, record.spec, reading, self.cluster.node_ids,
                            self._nemesis_rng, busy)
            record.resolved = fault
            record.before = {s.id: dict(s.undelivered) for s in reading}
            now = self.loop.now()
            record.started = now
            value = fault.value()
            self.record.nemesis("invoke", fault.kind.value, value, now)
            self.record.event(now, "fault-start", id=fault_id, fault=fault.kind.value, value=value)
            self.progress.faults.append(fault.description)
            self.loop.run_blocking(lambda: self.cluster.apply(fault), applied)

        def applied(handle: Any) -> None:
            record.applying = False
            if isinstance(handle, BaseException):
                record.error = f"could not apply {record.spec.kind.value}: {handle}"
                self.fault_errors.append(record.error)
                _log.error("run.fault_failed", fault=fault_id, error=str(handle))
            else:
                record.handle = handle
                self._process_event(record, starting=True)
                links = probe_links(record.resolved, self.cluster.node_ids)
                if links and not record.end_due:
                    self.loop.run_blocking(lambda: self.cluster.probe(links), probed)
                    return
            if record.end_due:
                self._end_fault(record)

        def probed(found: dict[tuple[NodeId, NodeId], float | None] | BaseException) -> None:
            if not isinstance(found, BaseException):
                record.probes = dict(found)
            if record.end_due:
                self._end_fault(record)

        self.loop.run_blocking(self.cluster.status, resolved_with)
        self.loop.call_at(int(record.spec.end_s * NS_PER_S), lambda: self._end_fault(record))

    def _process_event(self, record: FaultRecord, *, starting: bool) -> None:
        fault = record.resolved
        if fault is None or fault.kind not in (NemesisKind.KILL, NemesisKind.PAUSE):
            return
        killed = fault.kind is NemesisKind.KILL
        kind = "node-down" if starting else "node-up"
        reason = ("killed" if killed else "paused") if starting else (
            "restarted" if killed else "resumed"
        )
        for node in fault.targets:
            self.record.event(self.loop.now(), kind, node=node_label(node), reason=reason)

    def _end_fault(self, record: FaultRecord) -> None:
        """The fault's window ends now: record it, then undo it (a restart, a heal)."""
        if record.ended is not None or (record.resolved is None and not record.applying):
            return
        if record.applying:
            record.end_due = True  # still being applied: end it once that is done
            return
        fault = record.resolved
        assert fault is not None
        now = self.loop.now()
        record.ended = now
        # The latest reading (at most one poll old): reading afresh would delay the undo.
        record.after = {s.id: dict(s.undelivered) for s in self._view.values()}
        self.record.nemesis("info", fault.kind.value, fault.value(), now)
        self.record.event(now, "fault-end", id=fault.id, fault=fault.kind.value)
        if fault.description in self.progress.faults:
            self.progress.faults.remove(fault.description)
        if record.handle is None:
            return  # never applied: nothing to undo
        record.undoing = True

        def undone(result: BaseException | None) -> None:
            record.undoing = False
            if isinstance(result, BaseException):
                record.error = f"could not undo {fault.kind.value}: {result}"
                self.fault_errors.append(record.error)
                _log.error("run.undo_failed", fault=fault.id, error=str(result))
                return
            self._process_event(record, starting=False)

        self.loop.run_blocking(lambda: self.cluster.undo(record.handle), undone)

    # ---- the watcher -----------------------------------------------------------------

    def _poll(self) -> None:
        if self.done:
            return
        self.loop.call_later(self._poll_ns, self._poll)
        if self._polling:
            return  # the previous reading is still under way
        self._polling = True
        self.loop.run_blocking(self.cluster.status, self._observe)

    def _observe(self, states: list[NodeState] | BaseException) -> None:
        self._polling = False
        if isinstance(states, BaseException):
            _log.warning("run.status_failed", error=str(states))
            return
        now = self.loop.now()
        events, self._leader = changes(
            self._view, states, size=len(self.cluster.node_ids), leader_before=self._leader
        )
        for event in events:
            kind = event.pop("type")
            self.record.event(now, kind, **event)
        self._view = {s.id: s for s in states}
        progress = self.progress
        progress.now_s = now / NS_PER_S
        progress.leader = node_label(self._leader[0]) if self._leader else None
        progress.term = self._leader[1] if self._leader else None
        if self._on_progress is not None:
            self._on_progress(progress)
