"""The ``sim`` backend: the real Raft core, KV store and WAL in one process, over a
simulated network, disk and clock.

Rules: deterministic from the seed: every random stream is derived from it, time is the
simulator's, blocking calls run inline. Clients talk to nodes over a reliable client link
(0.2-1 ms); what a node cannot serve it forwards to the leader over the *peer* link, so
partitions, loss and latency hit forwarding exactly as they hit Raft messages. A crashed
node refuses connections (a definite failure); a paused one never answers. The faults a
real cluster cannot suffer (``NemesisKind.simulator_only``) are implemented here only.
In-node faults hit the node's own clock and disk (``SimCluster``), as the failpoint call
does on a real node. The consistency mode is served here as the node server serves it:
``lease`` reads from the leader's lease (a follower hands reads to the leader), ``stale``
reads from the local replica, ``ap`` reads and writes on the local ap replica.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from experiments.backends.base import (
    ClientSettings,
    DirectedLink,
    NodeId,
    NodeState,
    OpDone,
    Probes,
    Program,
    ResolvedFault,
    agreed_leader,
)
from experiments.backends.loops import SimLoop
from experiments.errors import BackendFailure, BadInput
from experiments.schedule import NemesisKind
from experiments.sim.cluster import CrashPoint, NodeVariant, SimCluster, SimTiming
from experiments.sim.events import NS_PER_MS, NS_PER_S, Scheduler
from experiments.workload import OpRequest
from nodes.client.policy import Attempted, Finish, Operation, Result, Router
from nodes.kv import Cas, Command, Mismatch, Ok, Put, StaleSequence
from nodes.raft import NO_NODE, NotLeader, ProposalDropped, Role
from nodes.replica import Applied, NotApplied, ReadDone, ReadFailed, Unknown
from nodes.storage import StorageFailure
from nodes.storage.faults import DiskFault
from proxy import grudge as grudges
from proxy.grudge import Grudge

CLIENT_LATENCY_MS = (0.2, 1.0)
"""Client <-> node one-way delay bounds."""
MAX_EVENTS_PER_SIMULATED_S = 10_000
"""A run's event budget per simulated second (a healthy 5-node run uses about 2,000): past
it the run stops and fails as a runaway."""
START_LIMIT_S = 10.0
"""How long (simulated) a cluster may take to elect its first leader."""
_CRASH_POINTS = tuple(CrashPoint)
_ROLES = {Role.LEADER: "leader", Role.FOLLOWER: "follower"}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Reply:
    """What a node sent back to a client."""

    attempted: Attempted[NodeId]
    node: NodeId


class SimBackend:
    """A simulated cluster (see the module docstring).

    Args:
        nodes: how many nodes (ids 1..nodes).
        seed: the seed every random stream derives from.
        timing: Raft timing and disk speed.
        variant: production nodes or a seeded bug's.
        forward: nodes forward writes they cannot serve to the leader (home routing).
        consistency: the cluster's mode (``cp``, ``lease``, ``stale``, ``ap``).
    """

    backend = "sim"
    poll_interval_s = 0.01

    def __init__(
        self,
        nodes: int,
        seed: int,
        *,
        timing: SimTiming | None = None,
        variant: NodeVariant | None = None,
        forward: bool = True,
        consistency: str = "cp",
    ) -> None:
        if nodes < 1:
            msg = f"a cluster needs at least one node, got {nodes}"
            raise BadInput(msg)
        self.node_ids: tuple[NodeId, ...] = tuple(range(1, nodes + 1))
        self.seed = seed
        self.timing = timing or SimTiming()
        self.variant = variant or NodeVariant()
        self.forward = forward
        self.consistency = consistency
        self.scheduler = Scheduler()
        self.sim: SimCluster | None = None
        self.runaway = False
        self._origin = 0
        self._client_rng = random.Random(f"{seed}:client-links")
        self._forward_rng = random.Random(f"{seed}:forwarding")
        self._storm_rng = random.Random(f"{seed}:storms")
        self._traps: dict[str, Callable[[int], None]] = {}

    # ---- lifecycle --------------------------------------------------------------

    def refusals(self, kinds: set[NemesisKind]) -> list[str]:
        """The simulator has no bandwidth model; the ap mode has no leader to aim a
        simulator-only fault at; everything else it can do."""
        problems = []
        if NemesisKind.BANDWIDTH in kinds:
            problems.append("bandwidth: the simulator has no bandwidth model (use local or "
                            "docker)")
        if self.consistency == "ap":
            problems += [
                f"{kind.value}: aims at Raft's protocol moments; the ap mode runs no Raft"
                for kind in sorted(kinds, key=lambda k: k.value) if kind.simulator_only
            ]
        return problems

    @property
    def cluster(self) -> SimCluster:
        """The simulated cluster (after ``start``)."""
        if self.sim is None:
            msg = "the simulated cluster is not started"
            raise BackendFailure(msg)
        return self.sim

    def start(self) -> None:
        """Boot the nodes and run simulated time until a majority agrees on a leader."""
        self.sim = SimCluster(
            len(self.node_ids), self.seed, self.scheduler, timing=self.timing,
            variant=self.variant, consistency=self.consistency,
        )
        limit = int(START_LIMIT_S * NS_PER_S)
        step = 10 * NS_PER_MS
        while self.scheduler.now < limit:
            self.scheduler.run_until(self.scheduler.now + step)
            if self._agreed():
                self._origin = self.scheduler.now
                return
        msg = f"no leader elected within {START_LIMIT_S:g} simulated seconds"
        raise BackendFailure(msg)

    def _agreed(self) -> bool:
        states = self.status()
        if self.consistency == "ap":
            return all(s.role == "replica" for s in states)
        return agreed_leader(states, len(self.node_ids)) is not None

    def stop(self) -> None:
        """Nothing to stop: the simulated cluster is dropped with this object."""

    def execute(self, program: Program, *, limit_s: float) -> bool:
        """Run ``program`` in simulated time (bounded by ``limit_s`` and the event budget)."""
        loop = _OffsetLoop(self.scheduler, self._origin)
        budget = self.scheduler.events + int(limit_s * MAX_EVENTS_PER_SIMULATED_S)
        finished = loop.execute(program, limit_s=self._origin / NS_PER_S + limit_s,
                                max_events=budget)
        self.runaway = not finished and self.scheduler.events >= budget
        return finished

    def save_logs(self, directory: Path) -> None:
        """The simulator keeps no logs."""

    # ---- status ---------------------------------------------------------------------

    def status(self) -> list[NodeState]:
        """Every node's view; crashed and paused nodes are unreachable."""
        cluster = self.cluster
        lost = cluster.network.undelivered
        states = []
        for node_id, node in cluster.nodes.items():
            undelivered = {dst: n for (src, dst), n in lost.items() if src == node_id}
            clock = node.clock
            if not node.up or node.paused or clock is None:
                states.append(NodeState(id=node_id, role="unreachable", undelivered=undelivered))
                continue
            faults: dict[str, Any] = {
                "clock_offset_ms": round(clock.offset / NS_PER_MS),
                "clock_rate": clock.rate,
                "clock_changes": clock.jumps,
                "disk_injected": node.disk.injected,
            }
            replica = node.replica
            if replica is None:  # the ap mode: no Raft
                seq = node.ap.store.seq if node.ap is not None else 0
                states.append(NodeState(id=node_id, role="replica", term=0, commit_index=seq,
                                        applied_index=seq, address=f"sim:n{node_id}",
                                        undelivered=undelivered, **faults))
                continue
            core = replica.core
            states.append(
                NodeState(
                    id=node_id,
                    role=_ROLES.get(core.role, "candidate"),  # type: ignore[arg-type]
                    term=core.term,
                    leader=core.leader_id or None,
                    commit_index=core.commit_index,
                    applied_index=replica.kv.applied_index,
                    address=f"sim:n{node_id}",
                    undelivered=undelivered,
                    **faults,
                )
            )
        return states

    def internal_checks(self) -> list[dict[str, Any]]:
        """What only a simulator can watch: Raft's invariants inside the nodes, restarts
        that storage refused, and runaways."""
        cluster = self.cluster
        violations = cluster.invariants.violations
        count = len(violations) + cluster.invariants.dropped
        checks = [
            {
                "name": "raft-invariants",
                "valid": count == 0,
                "expected": "no violation of Election Safety or State Machine Safety",
                "measured": f"{count} violation(s)",
                "summary": "; ".join(violations[:3]) or "Election Safety and State Machine "
                "Safety held in every Ready",
            },
            {
                "name": "restarts",
                "valid": not cluster.boot_failures,
                "expected": "every crashed node restarts from its disk",
                "measured": f"{len(cluster.boot_failures)} refused",
                "summary": "; ".join(cluster.boot_failures[:3]) or f"{cluster.crashes} crash(es)",
            },
        ]
        if self.runaway:
            checks.append(
                {
                    "name": "runaway",
                    "valid": False,
                    "expected": f"at most {MAX_EVENTS_PER_SIMULATED_S} events per simulated s",
                    "measured": f"{self.scheduler.events} events",
                    "summary": "the run spun past its event budget and was stopped",
                }
            )
        return checks

    def stats(self) -> dict[str, Any]:
        """Counters of the simulated world."""
        cluster = self.cluster
        return {
            "messages": cluster.network.stats.sent,
            "crashes": cluster.crashes,
            "storage_failures": len(cluster.storage_failures),
            "events": self.scheduler.events,
            "snapshots_taken": sum(
                n.replica.stats.snapshots_taken for n in cluster.nodes.values() if n.replica
            ),
        }

    # ---- process faults ----------------------------------------------------------------

    def kill(self, node: NodeId) -> None:
        """Crash the node: memory and unsynced disk writes are lost."""
        self.cluster.crash(node)

    def restart(self, node: NodeId) -> None:
        """Boot a crashed node from its disk."""
        self.cluster.restart(node)

    def pause(self, node: NodeId) -> None:
        """Stop the node's clock and inbox; it keeps its state."""
        self.cluster.pause(node)

    def resume(self, node: NodeId) -> None:
        """Let a paused node go on."""
        self.cluster.resume(node)

    # ---- faults ------------------------------------------------------------------------

    def apply(self, fault: ResolvedFault) -> Callable[[], None]:
        """Inject ``fault``; returns its undo."""
        cluster = self.cluster
        network = cluster.network
        kind = fault.kind
        spec = fault.spec
        if fault.grudge is not None:
            network.grudge = fault.grudge
            return partial(setattr, network, "grudge", Grudge())
        if kind is NemesisKind.KILL:
            (victim,) = fault.targets
            cluster.crash(victim)
            return partial(cluster.restart, victim)
        if kind is NemesisKind.PAUSE:
            (victim,) = fault.targets
            cluster.pause(victim)
            return partial(cluster.resume, victim)
        if kind.in_node:
            return self._in_node(fault)
        before = network.default
        if kind is NemesisKind.LOSS:
            network.default = replace(before, drop=spec.loss)
            return partial(setattr, network, "default", before)
        if kind is NemesisKind.LATENCY:
            network.default = replace(
                before,
                latency=before.latency + int(spec.latency_ms * NS_PER_MS),
                jitter=before.jitter + int(spec.jitter_ms * NS_PER_MS),
            )
            return partial(setattr, network, "default", before)
        if kind is NemesisKind.RESTARTS:
            return self._restart_storm()
        if kind is NemesisKind.LEADER_CHURN:
            return self._set_trap("leader-churn", cluster.crash_and_restart)
        if kind is NemesisKind.PARTITION_LEADER_ROLLING:
            return self._rolling_isolation()
        msg = f"the simulator cannot inject {kind.value}"
        raise BackendFailure(msg)

    def _in_node(self, fault: ResolvedFault) -> Callable[[], None]:
        """A clock or disk fault on each target (a crashed target is left alone: a restart
        brings a healthy clock and disk); returns its undo."""
        cluster = self.cluster
        spec = fault.spec
        kind = fault.kind
        for target in fault.targets:
            node = cluster.nodes[target]
            clock = node.clock
            if clock is None:
                continue
            if kind is NemesisKind.CLOCK_SKEW:
                clock.set_rate(spec.clock_rate)
            elif kind is NemesisKind.CLOCK_JUMP:
                clock.jump(round(spec.clock_jump_ms * NS_PER_MS))
            elif kind is NemesisKind.DISK_SLOW:
                node.disk.set(DiskFault.SLOW, spec.disk_delay_ms / 1000)
            else:
                node.disk.set(DiskFault.FULL if kind is NemesisKind.DISK_FULL
                              else DiskFault.ERROR)

        def undo() -> None:
            for target in fault.targets:
                node = cluster.nodes[target]
                if kind.category == "clock" and node.clock is not None:
                    node.clock.reset()
                elif kind.category == "disk":
                    node.disk.set(DiskFault.NONE)
                    if kind.stops_node:
                        cluster.restart(target)

        return undo

    def undo(self, handle: Callable[[], None]) -> None:
        """Undo one fault."""
        handle()

    def heal(self) -> None:
        """Restore every link, restart crashed nodes, resume paused ones."""
        cluster = self.cluster
        cluster.network.grudge = Grudge()
        self._traps.clear()
        cluster.leading_trap = None
        for node_id, node in cluster.nodes.items():
            if node.paused:
                cluster.resume(node_id)
            if node.clock is not None and not node.clock.healthy:
                node.clock.reset()
            node.disk.set(DiskFault.NONE)
            if not node.up:
                cluster.restart(node_id)

    def _victim(self) -> NodeId:
        leader = self.cluster.leader()
        if leader is not None and self._storm_rng.random() < 0.5:
            return leader
        return self._storm_rng.choice(self.node_ids)

    def _restart_storm(self) -> Callable[[], None]:
        """Every 50-300 ms crash a random node (now, inside one of its next disk writes, or
        at a protocol moment) and restart it 1-30 ms later, until undone."""
        cluster = self.cluster
        scheduler = self.scheduler
        rng = self._storm_rng
        stopped = False

        def crash_one() -> None:
            if stopped:
                return
            victim = self._victim()
            draw = rng.random()
            if draw < 0.25:
                cluster.arm_crash(victim, rng.randint(1, 4))
            elif draw < 0.75:
                cluster.arm_crash(victim, rng.choice(_CRASH_POINTS))
            else:
                cluster.crash(victim)
                delay = rng.randint(1, 30) * NS_PER_MS
                scheduler.call_later(delay, lambda: cluster.restart(victim))
            scheduler.call_later(rng.randint(50, 300) * NS_PER_MS, crash_one)

        crash_one()

        def stop() -> None:
            nonlocal stopped
            stopped = True
            for node in self.node_ids:
                cluster.restart(node)

        return stop

    def _rolling_isolation(self) -> Callable[[], None]:
        """Whenever a node leads with fresh entries to send, cut it off alone before they
        leave; the node cut off before rejoins."""
        cluster = self.cluster
        network = cluster.network
        isolated = 0

        def cut_off(leader: int) -> None:
            nonlocal isolated
            if isolated == leader:
                return
            isolated = leader
            network.grudge = grudges.isolate(leader, self.node_ids)

        remove = self._set_trap("partition-leader-rolling", cut_off)

        def stop() -> None:
            remove()
            network.grudge = Grudge()

        return stop

    def _set_trap(self, name: str, trap: Callable[[int], None]) -> Callable[[], None]:
        """Add a trap called whenever a node leads with fresh entries to send (composed
        faults may set two: each runs, in name order, until one crashes the node); returns
        its removal."""
        cluster = self.cluster
        self._traps[name] = trap

        def dispatch(node_id: int) -> None:
            replica = cluster.nodes[node_id].replica
            for each in sorted(self._traps):
                self._traps[each](node_id)
                if cluster.nodes[node_id].replica is not replica:
                    return  # it crashed: the next trap has nothing left to act on

        cluster.leading_trap = dispatch

        def remove() -> None:
            self._traps.pop(name, None)
            if not self._traps:
                cluster.leading_trap = None

        return remove

    def probe(self, links: list[DirectedLink]) -> Probes:
        """What a message across each link would meet now: its round trip, or None when the
        link is cut or an end is down."""
        network = self.cluster.network
        found: Probes = {}
        for src, dst in links:
            blocked = (
                src in network.down or dst in network.down
                or network.is_cut(src, dst)
            )
            there = network.conditions(src, dst).latency
            back = network.conditions(dst, src).latency
            found[(src, dst)] = None if blocked else (there + back) / NS_PER_S
        return found

    # ---- clients -----------------------------------------------------------------------

    def client(self, settings: ClientSettings) -> SimClient:
        """A recorded client bound to ``settings.home``."""
        return SimClient(self, settings)

    def client_delay(self) -> int:
        """One client-link crossing, in ns."""
        low, high = CLIENT_LATENCY_MS
        return int(self._client_rng.uniform(low, high) * NS_PER_MS)

    def peer_send(self, src: NodeId, dst: NodeId, action: Callable[[], None]) -> None:
        """Carry a forwarded request (or its answer) over the peer link ``src -> dst``:
        lost like a Raft message on a cut or lossy link, or to a node that is down."""
        network = self.cluster.network
        cond = network.conditions(src, dst)
        rng = self._forward_rng
        if src in network.down or network.is_cut(src, dst) or (
            cond.drop and rng.random() < cond.drop
        ):
            network.lose(src, dst)
            return
        delay = cond.latency + (int(rng.random() * cond.jitter) if cond.jitter else 0)

        def arrive() -> None:
            if dst in network.down or network.is_cut(src, dst):
                network.lose(src, dst)
                return
            action()

        self.scheduler.post_later(delay, arrive)

    def serve(
        self, node_id: NodeId, request: OpRequest, command: Command | None,
        reply: Callable[[Attempted[NodeId]], None], *, hop: bool,
    ) -> None:
        """Node ``node_id`` handles a client request (``hop``: it may forward a write, or a
        lease-mode read)."""
        cluster = self.cluster
        node = cluster.nodes[node_id]
        if not node.up:  # crashed: connection refused
            reply(Attempted(result=Result.UNREACHABLE, error=f"n{node_id} is down"))
            return
        if node.paused:
            return  # paused: never answers
        if self.consistency == "ap":
            self._serve_ap(node_id, request, command, reply)
            return
        replica = node.replica
        assert replica is not None
        mode = self.consistency
        try:
            if command is None and mode == "stale":
                reply(Attempted(result=Result.OK, value=replica.kv.get(request.key)))
                return
            if command is None and mode == "lease" and node.lease is not None:
                leader = replica.core.leader_id
                if (replica.core.role is not Role.LEADER and hop and self.forward
                        and leader not in (NO_NODE, node_id)):
                    self._forward(node_id, leader, request, command, reply)
                    return
                node.lease.read(request.key, lambda outcome: reply(_read_result(outcome)))
            elif command is None:
                replica.read(request.key, lambda outcome: reply(_read_result(outcome)))
            else:
                replica.propose(command, lambda outcome: reply(_write_result(outcome)))
        except NotLeader as exc:
            leader = exc.leader_hint
            if command is not None and hop and self.forward and leader not in (NO_NODE, node_id):
                self._forward(node_id, leader, request, command, reply)
                return
            hint = None if leader == NO_NODE else leader
            reply(Attempted(result=Result.NOT_LEADER, hint=hint, error="not the leader"))
            return
        except ProposalDropped as exc:
            reply(Attempted(result=Result.UNAVAILABLE, error=str(exc)))
            return
        cluster.pump(node_id)

    def _serve_ap(
        self, node_id: NodeId, request: OpRequest, command: Command | None,
        reply: Callable[[Attempted[NodeId]], None],
    ) -> None:
        """ap mode: the node's own replica answers; a write is acknowledged after its
        simulated fsync; a failing disk stops the node."""
        cluster = self.cluster
        node = cluster.nodes[node_id]
        replica = node.ap
        assert replica is not None
        if command is None:
            reply(Attempted(result=Result.OK, value=replica.read(request.key)))
            return
        try:
            result = replica.execute(command)
        except StorageFailure as exc:
            cluster.fail_stop(node_id, str(exc))
            reply(Attempted(result=Result.UNAVAILABLE, error=f"n{node_id} stopped: {exc}"))
            return
        attempted = _write_result(Applied(result=result))

        def answer() -> None:
            if node.ap is replica:  # a crash meanwhile: the client hears nothing
                reply(attempted)

        self.scheduler.post_later(cluster.fsync_delay(node), answer)

    def _forward(
        self, node_id: NodeId, leader: NodeId, request: OpRequest, command: Command | None,
        reply: Callable[[Attempted[NodeId]], None],
    ) -> None:
        """Send a write (or a lease-mode read) on to the leader over the peer link; its
        answer comes back the same way (a lost one leaves the client to time out)."""

        def back(attempted: Attempted[NodeId]) -> None:
            self.peer_send(leader, node_id, lambda: reply(attempted))

        def at_leader() -> None:
            if self.cluster.nodes[leader].replica is None:
                back(Attempted(result=Result.UNAVAILABLE, error=f"leader n{leader} is down"))
                return
            self.serve(leader, request, command, back, hop=False)

        self.peer_send(node_id, leader, at_leader)


def _read_result(outcome: ReadDone | ReadFailed) -> Attempted[NodeId]:
    if isinstance(outcome, ReadDone):
        return Attempted(result=Result.OK, value=outcome.value)
    return Attempted(result=Result.UNAVAILABLE, error=outcome.reason)


def _write_result(outcome: Applied | NotApplied | Unknown) -> Attempted[NodeId]:
    if isinstance(outcome, Applied):
        result = outcome.result
        if isinstance(result, Mismatch):
            return Attempted(result=Result.MISMATCH, value=result.current)
        if isinstance(result, StaleSequence):
            return Attempted(result=Result.REJECTED, error="stale sequence")
        if isinstance(result, Ok):
            return Attempted(result=Result.OK, value=result.value)
        return Attempted(result=Result.UNKNOWN, error=f"unexpected {type(result).__name__}")
    if isinstance(outcome, NotApplied):
        return Attempted(result=Result.UNAVAILABLE, error=outcome.reason)
    return Attempted(result=Result.UNKNOWN, error=outcome.reason)


class SimClient:
    """One recorded client process on the simulator, run by the shared client policy."""

    def __init__(self, backend: SimBackend, settings: ClientSettings) -> None:
        self.backend = backend
        self.settings = settings
        listener = settings.on_breaker
        self.router: Router[NodeId] = Router(
            backend.node_ids,
            settings.policy,
            random.Random(f"{backend.seed}:client:{settings.process}"),
            home=settings.home,
            on_breaker=None if listener is None else (lambda node, state, _now: listener(
                node, state)),
        )
        self._seq = 0
        self._attempt = 0
        self._closed = False

    def invoke(self, request: OpRequest, done: Callable[[OpDone], None]) -> None:
        """Run one operation; ``done`` gets its outcome in simulated time."""
        scheduler = self.backend.scheduler
        reading = request.f == "read"
        operation = self.router.begin("read" if reading else "write", scheduler.now)
        self._seq += 1
        command = None if reading else self._command(request, self._seq)
        self._next(operation, request, command, done)

    def close(self) -> None:
        """Abandon what is outstanding."""
        self._closed = True

    def _command(self, request: OpRequest, seq: int) -> Command:
        client_id = self.settings.client_id
        if request.f == "write":
            return Put(key=request.key, value=str(request.value), client_id=client_id, seq=seq)
        old, new = request.value
        expected = None if old is None else str(old)
        return Cas(key=request.key, expected=expected, new=str(new), client_id=client_id, seq=seq)

    def _next(
        self, operation: Operation[NodeId], request: OpRequest, command: Command | None,
        done: Callable[[OpDone], None],
    ) -> None:
        if self._closed:
            return
        backend = self.backend
        scheduler = backend.scheduler
        step = operation.next(scheduler.now)
        if isinstance(step, Finish):
            self._finish(step, done)
            return
        self._attempt += 1
        attempt = self._attempt
        target = step.target
        settled = False

        def settle(attempted: Attempted[NodeId]) -> None:
            nonlocal settled
            if settled or self._closed or attempt != self._attempt:
                return
            settled = True
            timer.cancel()
            after = operation.record(target, attempted, scheduler.now)
            if isinstance(after, Finish):
                self._finish(after, done)
                return
            scheduler.call_later(after.delay_ns,
                                 lambda: self._next(operation, request, command, done))

        def answered(attempted: Attempted[NodeId]) -> None:
            scheduler.call_later(backend.client_delay(), lambda: settle(attempted))

        timer = scheduler.call_later(
            step.timeout_ns,
            lambda: settle(Attempted(result=Result.TIMEOUT, error="attempt timed out")),
        )
        hop = self.settings.policy.routing == "home"
        scheduler.call_later(
            backend.client_delay(),
            lambda: backend.serve(target, request, command, answered, hop=hop),
        )

    def _finish(self, finish: Finish, done: Callable[[OpDone], None]) -> None:
        completion = finish.completion
        value = completion.value
        done(
            OpDone(
                type=completion.status,
                value=value,
                error=completion.error,
                node=completion.target,
            )
        )


class _OffsetLoop(SimLoop):
    """A ``SimLoop`` whose time 0 is the end of the cluster's start (its first election)."""

    def __init__(self, scheduler: Scheduler, origin: int) -> None:
        super().__init__(scheduler)
        self.origin = origin

    def now(self) -> int:
        """Simulated nanoseconds since the run started."""
        return self.scheduler.now - self.origin

    def call_at(self, at: int, action: Callable[[], None]) -> Any:
        """Schedule ``action`` at run time ``at``."""
        return self.scheduler.call_at(self.origin + at, action)
