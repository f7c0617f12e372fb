"""Fault schedules as plain data, shared by every backend (sim, local, docker).

Rules: no IO, no clocks; randomness only from an injected ``random.Random``.
A schedule says *what* happens *when* (seconds from the start of a run); which
nodes a fault hits (the current leader, a random minority) is decided by the
runner when the fault starts (``experiments.runner.faults``, with the run's seeded
RNG), because only then is the leader known; the backend only applies it.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType


class NemesisKind(enum.StrEnum):
    """The faults a schedule can hold."""

    PARTITION = "partition"
    """Explicit groups (``FaultSpec.groups``): links between groups are cut both ways."""
    PARTITION_MAJORITY = "partition-majority"
    """A random majority and minority, cut both ways."""
    PARTITION_LEADER = "partition-leader"
    """The current leader alone on one side."""
    PARTITION_BRIDGE = "partition-bridge"
    """Two halves that both still hear one bridge node."""
    PARTITION_HALVES = "partition-halves"
    """Nodes shuffled and split in two halves."""
    PARTITION_ONE_WAY = "partition-one-way"
    """The leader can send to the others but hears none of them."""
    PARTITION_LEADER_ROLLING = "partition-leader-rolling"
    """Simulator only: whenever a node leads with fresh entries to send, it alone is cut
    off before they leave, and the node cut off before rejoins. Entries of different
    terms end up stranded on different nodes, leaders that lost their quorum come back
    with requests still pending: the ground of the Raft paper's Figure 8."""
    LOSS = "loss"
    """Each message on every link is lost with probability ``loss``."""
    LATENCY = "latency"
    """Every link gets ``latency_ms`` more delay, plus up to ``jitter_ms``."""
    BANDWIDTH = "bandwidth"
    """Every peer link is limited to ``rate_kbps`` KB/s per connection and direction."""
    KILL = "kill"
    """A random node (the leader half the time) crashes, then restarts at the end."""
    PAUSE = "pause"
    """A random node (the leader half the time) stops, then resumes with its state."""
    RESTARTS = "restarts"
    """Over and over, a random node crashes and restarts within milliseconds (catches
    state that a restart forgets, e.g. an unpersisted vote)."""
    LEADER_CHURN = "leader-churn"
    """Simulator only: every node crashes the moment it leads with fresh entries to
    send, and restarts within milliseconds, so leaders keep dying with entries on their
    own disk only: the adversary of the Raft paper's Figure 8."""
    CLOCK_SKEW = "clock-skew"
    """A node's clock runs at ``clock_rate`` (0.5: half speed), then back on true time:
    its ticks, its lease and its HLC follow it. In-node (the failpoint call)."""
    CLOCK_JUMP = "clock-jump"
    """A node's clock steps by ``clock_jump_ms`` (negative: back in time), then back on
    true time: its lease and its HLC see the step, its ticks do not."""
    DISK_ERROR = "disk-error"
    """A node's writes and fsyncs fail (EIO): it must stop, losing no acknowledged
    write; it is restarted at the end."""
    DISK_SLOW = "disk-slow"
    """A node's writes and fsyncs take ``disk_delay_ms`` longer."""
    DISK_FULL = "disk-full"
    """A node's disk is full (ENOSPC): it must stop, losing no acknowledged write; it is
    restarted at the end."""

    @property
    def is_partition(self) -> bool:
        """Whether this fault cuts links."""
        return self.value == "partition" or self.value.startswith("partition-")

    @property
    def in_node(self) -> bool:
        """Faults injected inside a node (its clock, its disk) through the failpoint call."""
        return self in IN_NODE

    @property
    def stops_node(self) -> bool:
        """In-node faults the node must answer by stopping (a failing disk)."""
        return self in (NemesisKind.DISK_ERROR, NemesisKind.DISK_FULL)

    @property
    def simulator_only(self) -> bool:
        """Faults aimed at protocol moments, which only the simulator can inject."""
        return self in SIMULATOR_ONLY

    @property
    def category(self) -> str:
        """``partition``, ``link`` (loss, latency), ``process`` (kill, pause, restarts)
        or ``churn``: faults of different categories can be in force together (see
        ``generate``); in-node faults are ``clock`` or ``disk``."""
        if self.is_partition:
            return "partition"
        if self in (NemesisKind.LOSS, NemesisKind.LATENCY, NemesisKind.BANDWIDTH):
            return "link"
        if self is NemesisKind.LEADER_CHURN:
            return "churn"
        if self.in_node:
            return "clock" if self.value.startswith("clock") else "disk"
        return "process"


SIMULATOR_ONLY: frozenset[NemesisKind] = frozenset(
    {NemesisKind.PARTITION_LEADER_ROLLING, NemesisKind.LEADER_CHURN, NemesisKind.RESTARTS}
)
"""Kinds a real cluster cannot suffer: they crash or cut a node at a protocol moment
(``RESTARTS`` crashes nodes inside disk writes and right after votes)."""

IN_NODE: frozenset[NemesisKind] = frozenset(
    {
        NemesisKind.CLOCK_SKEW,
        NemesisKind.CLOCK_JUMP,
        NemesisKind.DISK_ERROR,
        NemesisKind.DISK_SLOW,
        NemesisKind.DISK_FULL,
    }
)
"""Kinds injected inside a node (``Admin.Failpoint`` on real nodes; the simulator's own
clock and disk)."""

SIMULATOR_KINDS: tuple[NemesisKind, ...] = (
    NemesisKind.PARTITION_MAJORITY,
    NemesisKind.PARTITION_LEADER,
    NemesisKind.PARTITION_BRIDGE,
    NemesisKind.PARTITION_HALVES,
    NemesisKind.PARTITION_ONE_WAY,
    NemesisKind.PARTITION_LEADER_ROLLING,
    NemesisKind.LOSS,
    NemesisKind.LATENCY,
    NemesisKind.KILL,
    NemesisKind.PAUSE,
    NemesisKind.RESTARTS,
    NemesisKind.LEADER_CHURN,
)
"""The kinds ``chaoslab sim`` draws from by default, in the order its schedules were
generated with (changing it changes every seed's schedule)."""

SIMULATOR_WEIGHTS: Mapping[NemesisKind, float] = MappingProxyType(
    {
        NemesisKind.PARTITION_MAJORITY: 1.0,
        NemesisKind.PARTITION_LEADER: 1.0,
        NemesisKind.PARTITION_BRIDGE: 1.0,
        NemesisKind.PARTITION_HALVES: 1.0,
        NemesisKind.PARTITION_ONE_WAY: 1.0,
        NemesisKind.PARTITION_LEADER_ROLLING: 8.0,
        NemesisKind.LOSS: 1.0,
        NemesisKind.LATENCY: 3.0,
        NemesisKind.KILL: 1.0,
        NemesisKind.PAUSE: 1.0,
        NemesisKind.RESTARTS: 8.0,
        NemesisKind.LEADER_CHURN: 2.0,
    }
)
"""How often ``chaoslab sim``'s default mix draws each of ``SIMULATOR_KINDS``, relative to
the others (see ``generate``'s ``weights``)."""

TARGETS: tuple[str, ...] = ("leader", "follower", "random", "any", "all")
"""Who a kill, pause or in-node fault hits: the leader, a follower, a random node, or
(``any``) the leader half the time and a random node otherwise; ``n3`` names one node;
``all`` (in-node faults that leave nodes running: clocks, a slow disk) every node."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """One fault window: ``kind`` is in force from ``at_s`` for ``duration_s`` seconds."""

    kind: NemesisKind
    at_s: float
    duration_s: float
    loss: float = 0.2
    """LOSS: the probability that one message is lost."""
    latency_ms: float = 50.0
    jitter_ms: float = 20.0
    rate_kbps: int = 100
    """BANDWIDTH: KB/s per connection and direction."""
    target: str = "any"
    """KILL and PAUSE: who is hit (see ``TARGETS``)."""
    groups: tuple[tuple[int, ...], ...] = ()
    """PARTITION: the groups (nodes in none form one more group)."""
    mode: str = "drop"
    """How links are cut on real clusters: ``drop`` (bytes vanish) or ``refuse``."""
    clock_rate: float = 0.5
    """CLOCK_SKEW: the node's clock speed (1: true time)."""
    clock_jump_ms: float = -10_000.0
    """CLOCK_JUMP: how far the node's clock steps (negative: back in time)."""
    disk_delay_ms: float = 100.0
    """DISK_SLOW: added to every write and fsync."""

    @property
    def end_s(self) -> float:
        """When the fault is undone."""
        return self.at_s + self.duration_s


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """Fault windows in time order, all healed by ``heal_s``.

    Windows never overlap, except that a composed window holds two faults of
    different categories over the same interval (e.g. restarts under latency).
    """

    faults: tuple[FaultSpec, ...]
    duration_s: float
    """How long clients run in total (faults, then a quiet recovery tail)."""

    @property
    def heal_s(self) -> float:
        """When the last fault is undone (0 when there are none)."""
        return max((f.end_s for f in self.faults), default=0.0)


def generate(
    rng: random.Random,
    kinds: Sequence[NemesisKind],
    *,
    duration_s: float,
    recovery_s: float,
    quiet_s: tuple[float, float] = (1.0, 3.0),
    fault_s: tuple[float, float] = (2.0, 6.0),
    compose: float = 0.0,
    weights: Sequence[float] | None = None,
) -> Schedule:
    """Alternate quiet and fault windows, Jepsen style, then leave a quiet tail.

    Args:
        rng: the only source of randomness.
        kinds: the faults to draw from (each window picks one); empty means none.
        duration_s: total run length, in simulated or real seconds.
        recovery_s: the quiet tail at the end, long enough for the cluster to recover.
        quiet_s: bounds of each quiet gap before a fault.
        fault_s: bounds of each fault's length.
        compose: the probability that a window also holds a second fault, of
            another category than its first (Jepsen's composed nemeses): faults
            that are rare alone, such as a crash between two candidates' vote
            requests, become common under latency.
        weights: how often each of ``kinds`` is drawn, relative to the others (one
            finite weight >= 0 per kind, at least one positive), for a window's
            first fault and its composed second alike. None draws every kind
            equally often, with the very draws schedules were always made with, so
            a seed keeps its schedule.

    Returns:
        The schedule.

    Raises:
        ValueError: if the recovery tail does not fit in the run, ``compose`` is
            not a probability, or ``weights`` does not give one usable weight per
            kind.
    """
    if recovery_s < 0 or recovery_s >= duration_s:
        msg = f"recovery_s={recovery_s} must be in [0, duration_s={duration_s})"
        raise ValueError(msg)
    if not 0.0 <= compose <= 1.0:
        msg = f"compose={compose} must be a probability in [0, 1]"
        raise ValueError(msg)
    if weights is not None:
        check_weights(kinds, weights)
    faults: list[FaultSpec] = []
    now = 0.0
    last = duration_s - recovery_s
    while kinds:
        start = now + rng.uniform(*quiet_s)
        length = rng.uniform(*fault_s)
        if start + length > last:
            break
        kind = _draw(rng, kinds, weights)
        window = [kind]
        if weights is None:
            others = [k for k in kinds if k.category != kind.category]
            other_weights = None
        else:
            pairs = [
                (k, w) for k, w in zip(kinds, weights, strict=True)
                if k.category != kind.category and w > 0
            ]
            others = [k for k, _ in pairs]
            other_weights = [w for _, w in pairs]
        if compose and others and rng.random() < compose:
            window.append(_draw(rng, others, other_weights))
        for each in window:
            faults.append(
                FaultSpec(
                    kind=each,
                    at_s=round(start, 3),
                    duration_s=round(length, 3),
                    loss=round(rng.uniform(0.05, 0.5), 3),
                    latency_ms=float(rng.choice((10, 50, 100, 200))),
                    jitter_ms=float(rng.choice((0, 10, 50))),
                )
            )
        now = start + length
    return Schedule(faults=tuple(faults), duration_s=duration_s)


def _draw(
    rng: random.Random, kinds: Sequence[NemesisKind], weights: Sequence[float] | None
) -> NemesisKind:
    """One kind: uniformly (the original draw) or by weight."""
    if weights is None:
        return kinds[rng.randrange(len(kinds))]
    return rng.choices(kinds, weights=weights)[0]


def check_weights(kinds: Sequence[NemesisKind], weights: Sequence[float]) -> None:
    """One finite weight >= 0 per kind, and some kind that can be drawn.

    Raises:
        ValueError: naming the kind whose weight is wrong, or the count that differs.
    """
    if len(weights) != len(kinds):
        msg = f"weights: expected one per kind ({len(kinds)}), got {len(weights)}"
        raise ValueError(msg)
    for kind, weight in zip(kinds, weights, strict=True):
        if not (math.isfinite(weight) and weight >= 0):
            msg = f"weights: the weight of {kind.value} must be a finite number >= 0, got {weight}"
            raise ValueError(msg)
    if kinds and not any(weights):
        msg = "weights: at least one kind needs a positive weight"
        raise ValueError(msg)
