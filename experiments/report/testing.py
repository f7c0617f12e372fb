"""Sample run directories for the report's tests and benchmark: a seeded toy cluster.

Rules: deterministic from the seed (randomness only from a ``random.Random``;
no clocks); the only IO is ``write_sample_run``. The toy cluster is not Raft:
it is a schedule of leaders, faults and node states, and clients whose
operations take effect atomically at one instant inside their interval on one
copy of each register, so the history is linearizable by construction, unless
``split_brain`` lets an isolated leader serve reads from its own log, uncommitted
writes included, until it notices it lost its quorum. The files
follow the run-directory contract (results.json is computed here the way the
runner does, roughly: it is a fixture, not the reference).
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final

import yaml

from experiments.history import Json, Op, OpType, format_history
from experiments.report.testing_results import sample_results

NS: Final = 1_000_000_000
MS: Final = 1_000_000
TIMEOUT_NS: Final = 1 * NS
"""A client gives up on an operation after this long."""
SPLIT_NS: Final = 600 * MS
"""How long a cut-off leader takes to notice (the split-brain window)."""
ELECTION_NS: Final = 1_200 * MS
"""How long the toy cluster takes to elect a new leader."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleFault:
    """One window of the fixed nemesis schedule (``partition-leader``, ``kill``, ``latency``)."""

    fault: str
    at_s: float
    for_s: float
    ms: int = 0
    jitter: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRun:
    """The shape of a sample run."""

    experiment: str = "isolate-leader"
    description: str = "The leader is cut off alone, later killed; a new one takes over."
    seed: int = 7
    backend: str = "sim"
    nodes: int = 5
    clients: int = 10
    keys: int = 3
    duration_s: float = 60.0
    rate: float = 100.0
    """Operations per second over all clients."""
    faults: tuple[SampleFault, ...] = (
        SampleFault(fault="partition-leader", at_s=10, for_s=10),
        SampleFault(fault="kill", at_s=30, for_s=5),
        SampleFault(fault="latency", at_s=40, for_s=5, ms=200, jitter=50),
    )
    split_brain: bool = False
    """The seeded bug: for ``SPLIT_NS`` after it is cut off, the old leader serves reads
    from its own log, including writes it appended but cannot commit (they time out)."""


def passing_run(seed: int = 7) -> SampleRun:
    """5 nodes, 10 clients, a leader partition, a leader kill and a latency window."""
    return SampleRun(seed=seed)


def failing_run(seed: int = 5) -> SampleRun:
    """A leader partition with a split brain: the old leader keeps serving (not linearizable)."""
    return SampleRun(experiment="split-brain", seed=seed, split_brain=True,
                     description="A leader that lost its quorum keeps serving: a seeded bug.",
                     faults=(SampleFault(fault="partition-leader", at_s=10, for_s=10),))


def large_run(ops: int = 20_000, seed: int = 7) -> SampleRun:
    """About ``ops`` operations over 60 s from 20 clients, with the passing run's faults."""
    return SampleRun(experiment="large", seed=seed, clients=20, rate=ops / 49.0,
                     description=f"About {ops} operations, for the report's scale tests.")


@dataclass(slots=True)
class _Window:
    id: int
    fault: str
    start: int
    end: int
    value: dict[str, Json]
    targets: list[str]


@dataclass(slots=True)
class _Cluster:
    """What the toy cluster looks like over time: leaders, down nodes, cut-off nodes."""

    nodes: list[str]
    leaders: list[tuple[int, str | None, int]] = field(default_factory=list)
    down: list[tuple[str, int, int]] = field(default_factory=list)
    cut: list[tuple[str, int, int]] = field(default_factory=list)
    windows: list[_Window] = field(default_factory=list)
    events: list[dict[str, Json]] = field(default_factory=list)

    def leader_at(self, t: int) -> tuple[str | None, int]:
        leader: tuple[str | None, int] = (None, 0)
        for start, node, term in self.leaders:
            if start > t:
                break
            leader = (node, term)
        return leader

    def is_down(self, node: str, t: int) -> bool:
        return any(n == node and s <= t < e for n, s, e in self.down)

    def is_cut(self, node: str, t: int) -> bool:
        return any(n == node and s <= t < e for n, s, e in self.cut)

    def extra_latency(self, t: int, rng: random.Random) -> int:
        for w in self.windows:
            if w.fault == "latency" and w.start <= t < w.end:
                return int((w.value["ms"] + rng.uniform(-1, 1) * w.value["jitter"]) * MS)
        return 0


def _plan(spec: SampleRun, rng: random.Random) -> _Cluster:
    """Leaders, terms, faults and cluster events over the run."""
    nodes = [f"n{i + 1}" for i in range(spec.nodes)]
    cluster = _Cluster(nodes=nodes)
    ev = cluster.events
    term = 1
    leader = nodes[0]
    first = 300 * MS
    for node in nodes:
        ev.append({"time": first - 20 * MS, "type": "role", "node": node,
                   "role": "candidate" if node == leader else "follower", "term": 1,
                   "leader": None})
    cluster.leaders.append((0, None, 0))
    cluster.leaders.append((first, leader, term))
    ev.extend({"time": first, "type": "role", "node": node,
               "role": "leader" if node == leader else "follower", "term": 1, "leader": leader}
              for node in nodes)
    ev.append({"time": first, "type": "leader", "leader": leader, "term": 1})

    def elect(at: int, excluded: str) -> str:
        nonlocal term, leader
        cluster.leaders.append((at, None, term))
        ev.append({"time": at, "type": "leader", "leader": None, "term": term})
        term += 1
        leader = rng.choice([n for n in nodes if n != excluded])
        won = at + ELECTION_NS + rng.randrange(200 * MS)
        ev.append({"time": won - 30 * MS, "type": "role", "node": leader, "role": "candidate",
                   "term": term, "leader": None})
        cluster.leaders.append((won, leader, term))
        ev.extend({"time": won, "type": "role", "node": node,
                   "role": "leader" if node == leader else "follower", "term": term,
                   "leader": leader} for node in nodes if node != excluded)
        ev.append({"time": won, "type": "leader", "leader": leader, "term": term})
        return leader

    for wid, f in enumerate(spec.faults):
        start, end = int(f.at_s * NS), int((f.at_s + f.for_s) * NS)
        value: dict[str, Json] = {"id": wid, "fault": f.fault}
        targets: list[str] = []
        if f.fault == "partition-leader":
            old = leader
            others = [n for n in nodes if n != old]
            targets = [old]
            value |= {"description": f"isolate {old} from {','.join(others)}",
                      "targets": targets, "sides": [others, [old]], "mode": "drop"}
            cluster.cut.append((old, start, end))
            ev.append({"time": start + SPLIT_NS, "type": "role", "node": old,
                       "role": "follower", "term": term, "leader": None})
            elect(start, old)
            ev.append({"time": end + 150 * MS, "type": "role", "node": old, "role": "follower",
                       "term": term, "leader": leader})
        elif f.fault == "kill":
            old = leader
            targets = [old]
            value |= {"description": f"kill -9 {old} (the leader), restart after {f.for_s:g}s",
                      "targets": targets}
            cluster.down.append((old, start, end))
            ev.append({"time": start, "type": "node-down", "node": old, "reason": "killed"})
            ev.append({"time": start, "type": "role", "node": old, "role": "unreachable",
                       "term": term, "leader": None})
            elect(start, old)
            ev.append({"time": end, "type": "node-up", "node": old, "reason": "restarted"})
            ev.append({"time": end + 400 * MS, "type": "role", "node": old, "role": "follower",
                       "term": term, "leader": leader})
        else:
            targets = list(nodes)
            value |= {"description": f"+{f.ms}ms ±{f.jitter}ms on every link",
                      "targets": targets, "ms": f.ms, "jitter": f.jitter}
        ev.append({"time": start, "type": "fault-start", "id": wid, "fault": f.fault,
                   "value": value})
        ev.append({"time": end, "type": "fault-end", "id": wid, "fault": f.fault})
        cluster.windows.append(_Window(id=wid, fault=f.fault, start=start, end=end, value=value,
                                       targets=targets))
    return cluster


@dataclass(slots=True)
class _Pending:
    process: int
    f: str
    key: str
    value: Json
    start: int
    node: str
    final: bool = False
    result: Json = None
    outcome: OpType = "ok"
    error: str | None = None


class _Clients:
    """Client processes bound to home nodes, as an event loop over simulated time."""

    def __init__(self, spec: SampleRun, cluster: _Cluster, rng: random.Random) -> None:
        self.spec, self.cluster, self.rng = spec, cluster, rng
        self.main: dict[str, Json] = {}
        self.divergent: dict[str, Json] | None = None
        self.counter = 0
        self.lines: list[tuple[int, int, dict[str, Json]]] = []
        self.queue: list[tuple[int, int, Callable[[], None]]] = []
        self.seq = 0
        self.failures = [0] * spec.clients
        self.breaker_until = [0] * spec.clients
        self.last_seen: list[dict[str, Json]] = [{} for _ in range(spec.clients)]
        self.now = 0
        self.end = int(spec.duration_s * NS)
        self.workload_end = self.end - 3 * NS
        mean_ns = spec.clients / spec.rate * NS
        self.think = max(mean_ns - 5 * MS, MS)

    def at(self, t: int, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, action))

    def record(self, t: int, line: dict[str, Json]) -> None:
        self.seq += 1
        self.lines.append((t, self.seq, line))

    def home(self, process: int) -> str:
        return self.cluster.nodes[process % len(self.cluster.nodes)]

    def run(self) -> None:
        for p in range(self.spec.clients):
            self.at(int(self.rng.uniform(0.2, 0.5) * NS), partial(self.invoke, p))
        for k in range(self.spec.keys):
            self.at(self.end - NS + k * 50 * MS, partial(self.final_read, k))
        while self.queue:
            self.now, _, action = heapq.heappop(self.queue)
            action()

    def copy_for(self, node: str, t: int) -> dict[str, Json] | None:
        """The register copy a request at ``node`` reaches, or None (unavailable)."""
        if self.cluster.is_down(node, t):
            return None
        if self.cluster.is_cut(node, t):
            return self.divergent if t < self.cut_since(node, t) + SPLIT_NS else None
        leader, _ = self.cluster.leader_at(t)
        return None if leader is None or self.cluster.is_down(leader, t) else self.main

    def cut_since(self, node: str, t: int) -> int:
        """When the cut of ``node`` in force at ``t`` began (call only while it is cut)."""
        return max(s for n, s, e in self.cluster.cut if n == node and s <= t < e)

    def choose(self, process: int) -> tuple[str, str, Json]:
        key = f"k{self.rng.randrange(self.spec.keys)}"
        roll = self.rng.random()
        if roll < 0.45:
            return "read", key, None
        self.counter += 1
        if roll < 0.8:
            return "write", key, self.counter
        seen = self.last_seen[process].get(key)
        return "cas", key, [seen, self.counter]

    def invoke(self, process: int, *, final_key: int | None = None) -> None:
        t = self.now
        if final_key is None and t >= self.workload_end:
            return
        if final_key is None:
            f, key, value = self.choose(process)
        else:
            f, key, value = "read", f"k{final_key}", None
        op = _Pending(process=process, f=f, key=key, value=value, start=t,
                      node=self.home(process), final=final_key is not None)
        line: dict[str, Json] = {"process": process, "type": "invoke", "f": f, "key": key,
                                 "value": value, "node": op.node}
        if op.final:
            line["final"] = True
        self.record(t, line)
        if not op.final and t < self.breaker_until[process]:
            self.at(t + 100_000, lambda: self.complete(op, "fail", "breaker open"))
            return
        latency = int(self.rng.lognormvariate(1.1, 0.5) * MS) + self.cluster.extra_latency(
            t, self.rng)
        copy = self.copy_for(op.node, t)
        if copy is None:
            # wait for a leader (or the node) to come back, up to the client's timeout
            retry = t + 200 * MS
            while retry < t + TIMEOUT_NS and self.copy_for(op.node, retry) is None:
                retry += 200 * MS
            if retry >= t + TIMEOUT_NS:
                outcome: OpType = "fail" if f == "read" else "info"
                if outcome == "info" and self.rng.random() < 0.3 and f == "write":
                    self.at(t + TIMEOUT_NS + 300 * MS, lambda: self.apply(op, self.main))
                self.at(t + TIMEOUT_NS, lambda: self.complete(op, outcome, "timeout"))
                return
            latency += retry - t
            copy = self.copy_for(op.node, retry)
        target = copy
        self.at(t + latency // 2, lambda: self.apply(op, target))
        if copy is self.divergent and f != "read":  # appended, never committed
            self.at(t + TIMEOUT_NS, lambda: self.complete(op, "info", "timeout"))
            return
        self.at(t + latency, lambda: self.complete(op, op.outcome, op.error))

    def apply(self, op: _Pending, copy: dict[str, Json] | None) -> None:
        if copy is None:
            return
        current = copy.get(op.key)
        if op.f == "read":
            op.result = current
        elif op.f == "write":
            copy[op.key] = op.value
            op.result = op.value
        elif current == op.value[0]:
            copy[op.key] = op.value[1]
            op.result = op.value
        else:
            op.result = op.value
            op.outcome, op.error = "fail", "mismatch"

    def complete(self, op: _Pending, outcome: OpType, error: str | None) -> None:
        t = self.now
        value = op.result if outcome == "ok" else op.value
        line: dict[str, Json] = {"process": op.process, "type": outcome, "f": op.f,
                                 "key": op.key, "value": value, "node": op.node}
        if error is not None:
            line["error"] = error
        if op.final:
            line["final"] = True
        self.record(t, line)
        if op.final:
            return
        p = op.process
        if outcome == "ok" and op.f == "read":
            self.last_seen[p][op.key] = value
        if outcome == "ok" or error == "mismatch":
            if self.failures[p] >= 3:
                self.record(t, {"event": "breaker", "process": p, "node": op.node,
                                "state": "closed"})
            self.failures[p] = 0
        elif error != "breaker open":
            self.failures[p] += 1
            if self.failures[p] == 3:
                self.breaker_until[p] = t + NS
                self.record(t, {"event": "breaker", "process": p, "node": op.node,
                                "state": "open"})
                self.record(t + NS, {"event": "breaker", "process": p, "node": op.node,
                                     "state": "half-open"})
        self.at(t + int(self.rng.expovariate(1 / self.think)), lambda: self.invoke(p))

    def final_read(self, k: int) -> None:
        self.invoke(self.spec.clients + k, final_key=k)


def _drive(clients: _Clients, cluster: _Cluster, spec: SampleRun) -> None:
    """Run the event loop, forking the split-brain copy when the leader is cut off."""
    for w in cluster.windows:
        if w.fault == "partition-leader" and spec.split_brain:
            def fork() -> None:
                clients.divergent = dict(clients.main)

            def merge() -> None:
                clients.divergent = None

            clients.at(w.start, fork)
            clients.at(w.end, merge)
    clients.run()


def sample_history(spec: SampleRun) -> tuple[list[Op], list[dict[str, Json]]]:
    """The history and the cluster events of a sample run.

    Args:
        spec: the shape of the run.

    Returns:
        (history ops in order, events.jsonl objects in time order).
    """
    rng = random.Random(spec.seed)
    cluster = _plan(spec, rng)
    clients = _Clients(spec, cluster, rng)
    _drive(clients, cluster, spec)
    lines = list(clients.lines)
    events = list(cluster.events)
    for w in cluster.windows:
        lines.append((w.start, -1, {"process": "nemesis", "type": "invoke", "f": w.fault,
                                    "value": w.value}))
        lines.append((w.end, -1, {"process": "nemesis", "type": "info", "f": w.fault,
                                  "value": w.value}))
    history: list[Op] = []
    for t, _, line in sorted(lines, key=lambda x: (x[0], x[1])):
        if "event" in line:
            events.append({"time": t, "type": "breaker", "process": line["process"],
                           "node": line["node"], "state": line["state"]})
            continue
        extra = {"final": True} if line.get("final") else {}
        history.append(Op(index=len(history), process=line["process"], type=line["type"],
                          f=line["f"], key=line.get("key"), value=line.get("value"), time=t,
                          error=line.get("error"), node=line.get("node"), extra=extra))
    end = int(spec.duration_s * NS)
    events += [{"time": 0, "type": "phase", "phase": "workload"},
               {"time": end - 3 * NS, "type": "phase", "phase": "recovery"},
               {"time": end - NS, "type": "phase", "phase": "final-reads"},
               {"time": end, "type": "phase", "phase": "done"}]
    events.sort(key=lambda e: e["time"])
    return history, events


def sample_experiment(spec: SampleRun) -> dict[str, Any]:
    """experiment.yaml of a sample run: the resolved experiment."""
    nemesis: list[dict[str, Any]] = []
    for f in spec.faults:
        entry: dict[str, Any] = {"at": f"{f.at_s:g}s", "fault": f.fault, "for": f"{f.for_s:g}s"}
        if f.fault == "kill":
            entry["target"] = "leader"
        if f.fault == "latency":
            entry |= {"ms": f.ms, "jitter": f.jitter}
        nemesis.append(entry)
    return {"name": spec.experiment, "description": spec.description,
            "cluster": {"nodes": spec.nodes, "consistency": "cp"},
            "workload": {"kind": "register", "clients": spec.clients, "keys": spec.keys,
                         "rate": spec.rate, "mix": {"read": 9, "write": 7, "cas": 4}},
            "duration": f"{spec.duration_s:g}s", "nemesis": nemesis,
            "expect": {"linearizable": True, "lost-writes": 0,
                       "availability": {"quiet": ">= 0.95", "majority": ">= 0.8",
                                        "minority": "<= 0.05"},
                       "recovery": "<= 5s"},
            "seed": spec.seed, "backend": spec.backend}


def write_sample_run(parent: Path, spec: SampleRun) -> Path:
    """Write a sample run directory (without report.html / junit.xml) under ``parent``.

    Args:
        parent: the runs directory; the run goes to ``<experiment>/<time>-<backend>-<seed>``.
        spec: the shape of the run.

    Returns:
        The run directory.
    """
    history, events = sample_history(spec)
    run_dir = parent / spec.experiment / f"20261130T235900Z-{spec.backend}-{spec.seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "experiment.yaml").write_text(
        yaml.safe_dump(sample_experiment(spec), sort_keys=False), encoding="utf-8")
    (run_dir / "history.jsonl").write_text(format_history(history), encoding="utf-8")
    (run_dir / "events.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    results = sample_results(spec, history, events, wall_s=spec.duration_s + 1.2)
    (run_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n",
                                          encoding="utf-8")
    return run_dir


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRuns:
    """The three sample runs the report is tested and measured on."""

    root: Path
    passing: Path
    failing: Path
    large: Path


def write_sample_runs(root: Path, *, large_ops: int = 20_000) -> SampleRuns:
    """Write the passing, failing and large sample runs under one runs directory.

    Args:
        root: the runs directory.
        large_ops: about how many operations the large run has.

    Returns:
        Where each run went.
    """
    return SampleRuns(root=root, passing=write_sample_run(root, passing_run()),
                      failing=write_sample_run(root, failing_run()),
                      large=write_sample_run(root, large_run(large_ops)))
