"""The backend seam: what the runner needs of a cluster, whichever backend runs it.

Rules: types and protocols only, no IO. Three backends implement ``Cluster``: ``sim``
(the real Raft core in one process, simulated time), ``local`` (node processes on
loopback behind a Toxiproxy server) and ``docker`` (the compose cluster). Everything
above the seam (workloads, nemesis schedules, history, checkers, expectations, reports)
exists once, in ``experiments.runner``.

Time and threads: a backend runs the runner's program on its own ``Loop``
(``Cluster.execute``): simulated time on ``sim``, an asyncio loop on real backends. The
runner only ever schedules callbacks on that loop; a ``Cluster`` method that blocks
(``status``, ``apply``, ``kill``, ...) is called through ``Loop.run_blocking``, which
runs it inline on ``sim`` and in a worker thread on real backends, so clients keep
running meanwhile. Node ids are 1..N; ``n3`` is node 3 in every file a run writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from experiments.schedule import FaultSpec, NemesisKind
from experiments.workload import OpRequest
from nodes.client import NodeView
from nodes.client.policy import BreakerState, ClientPolicy
from proxy.grudge import Grudge

T = TypeVar("T")
NodeId = int
Role = Literal["leader", "follower", "candidate", "replica", "unreachable"]
"""``replica``: a node of the ``ap`` mode (no Raft, no leader)."""
OpType = Literal["ok", "fail", "info"]
DirectedLink = tuple[int, int]
"""``(src, dst)``: what ``src`` sends to ``dst``."""
Probes = dict[DirectedLink, float | None]
"""A probe's round trip per link, in seconds (None: no answer: the link is cut)."""


def node_label(node: NodeId | None) -> str | None:
    """``n3`` for 3 (None stays None): how files name nodes."""
    return None if node is None else f"n{node}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeState:
    """What one node says about itself (``unreachable`` when it could not be asked)."""

    id: NodeId
    role: Role
    term: int | None = None
    leader: NodeId | None = None
    commit_index: int | None = None
    applied_index: int | None = None
    address: str = ""
    undelivered: Mapping[NodeId, int] = field(default_factory=dict)
    """Peer → messages this node could not deliver to it so far (cumulative): the node's
    own evidence that a link is cut."""
    clock_offset_ms: int = 0
    """The node's clock minus true time (in-node clock faults)."""
    clock_rate: float = 1.0
    clock_changes: int = 0
    """Clock faults the node applied so far (cumulative): the evidence of a clock fault."""
    disk_injected: int = 0
    """Disk operations a failpoint failed or delayed so far (cumulative)."""

    @classmethod
    def from_view(cls, node: NodeId, view: NodeView | None, address: str = "") -> NodeState:
        """A chaoslab node's status reply (None: it did not answer)."""
        if view is None:
            return cls(id=node, role="unreachable", address=address)
        role: Role = "leader" if view.role == "leader" else (
            "follower" if view.role == "follower" else
            "replica" if view.role == "replica" else "candidate"
        )
        return cls(
            id=node,
            role=role,
            term=view.term,
            leader=view.leader,
            commit_index=view.commit_index,
            applied_index=view.applied_index,
            address=address,
            undelivered={p.id: p.dropped for p in view.peers},
            clock_offset_ms=view.clock_offset_ms,
            clock_rate=view.clock_rate,
            clock_changes=view.clock_changes,
            disk_injected=view.disk_injected,
        )

    def to_json(self) -> dict[str, Any]:
        """The ``cluster status --json`` shape."""
        return {
            "id": self.id,
            "address": self.address,
            "role": self.role,
            "term": self.term,
            "leader": self.leader,
            "commit_index": self.commit_index,
            "applied_index": self.applied_index,
        }


def agreed_leader(states: list[NodeState] | tuple[NodeState, ...], size: int) -> NodeState | None:
    """The leader a majority of all ``size`` nodes agree on (same id and term), or None.

    A node counts for a leader when it is that leader, or follows it in the leader's term.
    """
    quorum = size // 2 + 1
    for state in states:
        if state.role != "leader" or state.term is None:
            continue
        agree = sum(
            1
            for other in states
            if other.role != "unreachable" and other.leader == state.id and other.term == state.term
        )
        if agree >= quorum:
            return state
    return None


class Cancel(Protocol):
    """A scheduled callback that can be cancelled."""

    def cancel(self) -> None:
        """Drop it if it has not run yet."""


class Loop(Protocol):
    """The clock and callback queue a run executes on (simulated or asyncio)."""

    def now(self) -> int:
        """Nanoseconds since the run started (monotonic)."""

    def call_at(self, at: int, action: Callable[[], None]) -> Cancel:
        """Run ``action`` at ``at`` ns (now, if that has passed)."""

    def call_later(self, delay: int, action: Callable[[], None]) -> Cancel:
        """Run ``action`` after ``delay`` ns."""

    def run_blocking(
        self, work: Callable[[], T], done: Callable[[T | BaseException], None]
    ) -> None:
        """Run ``work`` (inline on sim, in a worker thread on real backends) and hand its
        result, or the exception it raised, to ``done`` on the loop."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedFault:
    """A fault window with its targets chosen: what the backend must do, as plain data.

    ``grudge`` holds the directed links to cut (partitions), ``targets`` the nodes hit
    (kill / pause: the victim; partitions: the nodes cut off from the majority),
    ``sides`` the connected groups during a partition (the majority's first).
    """

    id: int
    spec: FaultSpec
    grudge: Grudge | None = None
    targets: tuple[NodeId, ...] = ()
    sides: tuple[tuple[NodeId, ...], ...] = ()
    description: str = ""
    seed: int = 0
    """Seeds what the backend randomizes inside the fault (loss flaps)."""

    @property
    def kind(self) -> NemesisKind:
        """The fault's kind."""
        return self.spec.kind

    def value(self) -> dict[str, Any]:
        """The nemesis operation's value: what was cut or hit (history and events)."""
        spec = self.spec
        value: dict[str, Any] = {
            "id": self.id,
            "fault": spec.kind.value,
            "description": self.description,
            "targets": [node_label(n) for n in self.targets],
        }
        if self.sides:
            value["sides"] = [[node_label(n) for n in side] for side in self.sides]
        if self.grudge is not None:
            value["cut"] = self.grudge.to_json()
            value["mode"] = spec.mode
        if spec.kind is NemesisKind.LATENCY:
            value |= {"ms": spec.latency_ms, "jitter": spec.jitter_ms}
        elif spec.kind is NemesisKind.LOSS:
            value["p"] = spec.loss
        elif spec.kind is NemesisKind.BANDWIDTH:
            value["rate_kbps"] = spec.rate_kbps
        elif spec.kind is NemesisKind.CLOCK_SKEW:
            value["rate"] = spec.clock_rate
        elif spec.kind is NemesisKind.CLOCK_JUMP:
            value["ms"] = spec.clock_jump_ms
        elif spec.kind is NemesisKind.DISK_SLOW:
            value["ms"] = spec.disk_delay_ms
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class OpDone:
    """How a client operation completed (the history's completion line)."""

    type: OpType
    value: Any = None
    error: str | None = None
    node: NodeId | None = None
    """The node that gave the deciding answer (None when none did)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """How the runner wants one recorded client process to behave."""

    process: int
    home: NodeId
    """The node the client is bound to (``home`` routing) or starts from (``any``)."""
    policy: ClientPolicy
    seed: int
    """Seeds the client's jitter."""
    client_id: str
    """Unique among the run's clients: the session id prefix."""
    on_breaker: Callable[[NodeId, BreakerState], None] | None = None
    """Told of every breaker state change (on the loop)."""


class OpClient(Protocol):
    """A recorded client process's connection: one operation outstanding at a time."""

    def invoke(self, request: OpRequest, done: Callable[[OpDone], None]) -> None:
        """Start ``request``; ``done`` gets its one outcome later, on the loop."""

    def close(self) -> None:
        """Release connections (outstanding operations are abandoned)."""


Program = Callable[[Loop, Callable[[], None]], None]
"""The runner's program: schedules its work on the loop, calls ``finished`` when done."""


class Cluster(Protocol):
    """A cluster the runner can run an experiment on (see the module docstring)."""

    backend: str
    """``sim``, ``local`` or ``docker``."""
    node_ids: tuple[NodeId, ...]

    def refusals(self, kinds: set[NemesisKind]) -> list[str]:
        """Why this backend cannot inject some of ``kinds`` (one reason each; empty: all fine)."""

    def start(self) -> None:
        """Bring the cluster up and wait (bounded) until it has a leader.

        Raises:
            BackendFailure: it did not come up.
        """

    def stop(self) -> None:
        """Heal every fault and stop every node; safe to call twice and after a failure."""

    def execute(self, program: Program, *, limit_s: float) -> bool:
        """Run ``program`` on this backend's loop until it calls ``finished``, or until
        ``limit_s`` (wall seconds on real backends, simulated on sim) passed.

        Returns:
            True when the program finished.
        """

    def status(self) -> list[NodeState]:
        """Every node's state, by id (blocking on real backends)."""

    def kill(self, node: NodeId) -> None:
        """kill -9 the node."""

    def restart(self, node: NodeId) -> None:
        """Start a killed node again on its data."""

    def pause(self, node: NodeId) -> None:
        """Freeze the node (SIGSTOP, cgroup freezer): it keeps its state."""

    def resume(self, node: NodeId) -> None:
        """Thaw a paused node."""

    def apply(self, fault: ResolvedFault) -> Any:
        """Inject the fault; returns a handle for ``undo``.

        Raises:
            BackendFailure: the fault could not be injected (nothing stays applied).
        """

    def undo(self, handle: Any) -> None:
        """Undo one applied fault (restart a killed node, heal cut links, ...)."""

    def heal(self) -> None:
        """Undo every fault still in force (the runner's safety net)."""

    def probe(self, links: list[DirectedLink]) -> Probes:
        """Send a probe across each directed link, as a node would: its round trip in
        seconds, or None when nothing came back in time (the link is cut). A backend that
        cannot probe returns ``{}``."""

    def client(self, settings: ClientSettings) -> OpClient:
        """A recorded client bound to ``settings.home``."""

    def save_logs(self, directory: Path) -> None:
        """Copy the nodes' (and proxy's) logs into ``directory`` (nothing on sim)."""
