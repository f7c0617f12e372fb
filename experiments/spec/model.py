"""The experiment file's schema (DESIGN.md "The experiment file"), as pydantic models.

Rules: validation only, no IO. Keys are written with dashes (``lost-writes``); unknown keys
are errors, never ignored. A validator of a whole model that blames one of its parts starts
its message with ``@dotted.path: `` (``@nemesis.2: ...``), and the loader reports the error
at that part's position. Durations are stored in seconds and bounds as ``Bound``. What a
backend cannot do (a simulator-only fault on a real cluster) is checked by the backend at
load time (``experiments.backends``), not here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    field_validator,
    model_validator,
)

from experiments.schedule import TARGETS, NemesisKind
from experiments.spec.quantities import Bound, format_duration, parse_bound, parse_duration
from experiments.stores.names import check_store_name
from nodes.timing import DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS, DEFAULT_TICK_MS

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
CONSISTENCIES = ("cp", "lease", "stale", "ap")


def _kebab(name: str) -> str:
    return name.rstrip("_").replace("_", "-")


Seconds = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration: ``10s``, ``250ms``, ``2m`` (kept in seconds)."""

DurationBound = Annotated[
    Bound,
    BeforeValidator(lambda v: v if isinstance(v, Bound) else parse_bound(v, duration=True)),
    PlainSerializer(str, return_type=str),
]
RatioBound = Annotated[
    Bound,
    BeforeValidator(lambda v: v if isinstance(v, Bound) else parse_bound(v, duration=False)),
    PlainSerializer(str, return_type=str),
]


class Model(BaseModel):
    """Strict, frozen, dash-keyed."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=_kebab,
        populate_by_name=True,
        arbitrary_types_allowed=True,
    )


class Timing(Model):
    """Raft timing of the nodes (defaults: the node server's)."""

    tick: Seconds = DEFAULT_TICK_MS / 1000
    election_ticks: int = Field(default=DEFAULT_ELECTION_TICKS, ge=2, le=10_000)
    heartbeat_ticks: int = Field(default=DEFAULT_HEARTBEAT_TICKS, ge=1, le=10_000)

    @model_validator(mode="after")
    def _ratio(self) -> Timing:
        if self.heartbeat_ticks >= self.election_ticks:
            msg = (
                f"heartbeat-ticks ({self.heartbeat_ticks}) must be below election-ticks "
                f"({self.election_ticks})"
            )
            raise ValueError(msg)
        if not 0.001 <= self.tick <= 10:
            msg = f"tick must lie in 1ms..10s, found {format_duration(self.tick)}"
            raise ValueError(msg)
        return self

    @property
    def election_timeout_s(self) -> float:
        """The longest randomized election timeout (2 x election ticks, as the core draws)."""
        return 2 * self.election_ticks * self.tick


class ClusterSpec(Model):
    """What cluster the experiment runs on."""

    nodes: int = Field(default=5, ge=1, le=9)
    consistency: Literal["cp", "lease", "stale", "ap"] = "cp"
    store: str = "chaoslab"
    """``chaoslab``, ``etcd``, or an adapter of your own as ``package.module:Class``."""
    unsafe: str | None = None
    """A seeded bug to switch on (``chaoslab sim --list-bugs``); needs ``allow-unsafe: true``."""
    allow_unsafe: bool = False
    """Say it explicitly: this run deliberately breaks the store."""
    timing: Timing = Field(default_factory=Timing)

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        return check_store_name(value)

    @model_validator(mode="after")
    def _unsafe_is_explicit(self) -> ClusterSpec:
        if self.unsafe is not None and not self.allow_unsafe:
            msg = (
                f"unsafe: {self.unsafe!r} deliberately breaks the store; add "
                "`allow-unsafe: true` to the cluster to say you mean it"
            )
            raise ValueError(msg)
        return self


class Mix(Model):
    """Relative weights of the operations."""

    read: int = Field(default=2, ge=0)
    write: int = Field(default=2, ge=0)
    cas: int = Field(default=1, ge=0)

    @model_validator(mode="after")
    def _some(self) -> Mix:
        if self.read + self.write + self.cas == 0:
            msg = "at least one weight must be above 0"
            raise ValueError(msg)
        return self


class Retry(Model):
    """Retries inside each operation's deadline (``workload.timeout``)."""

    attempt_timeout: Seconds = 0.3
    adaptive_attempt_timeout: bool = True
    """Stretch ``attempt-timeout`` to each node's measured round trip (doubling after an
    attempt that ran out of time), as TCP does; false: a fixed deadline."""
    backoff_base: Seconds = 0.005
    backoff_max: Seconds = 0.1
    max_attempts: int | None = Field(default=None, ge=1)


class Breaker(Model):
    """A circuit breaker per client and node."""

    failures: int = Field(default=5, ge=1)
    open: Seconds = 1.0
    probes: int = Field(default=1, ge=1)


class ClientSpec(Model):
    """How each client behaves under failure."""

    retry: Retry = Field(default_factory=Retry)
    breaker: Breaker | None = None


class WorkloadSpec(Model):
    """What the clients do."""

    kind: Literal["register", "set"] = "register"
    clients: int = Field(default=10, ge=1, le=1000)
    keys: int = Field(default=3, ge=1, le=10_000)
    rate: float = Field(default=100.0, gt=0, le=100_000)
    """Operations per second, all clients together (each waits about clients/rate between
    its operations)."""
    mix: Mix = Field(default_factory=Mix)
    routing: Literal["home", "any"] = "home"
    """``home``: each client is bound to one node (round-robin) and never hops; ``any``:
    clients follow redirects and move on after failures, like a library client."""
    timeout: Seconds = 1.0
    """An operation's deadline, retries included."""
    final_reads: bool = True
    """After the run, read every key once more (set: read the set) from every node."""
    client: ClientSpec = Field(default_factory=ClientSpec)


class FaultStep(Model):
    """One fault of a fixed schedule."""

    at: Seconds
    fault: NemesisKind
    for_: Seconds = Field(alias="for", gt=0)
    target: str | None = None
    """kill / pause / in-node faults: leader, follower, random, any, or a node such as n3;
    ``all`` for the in-node faults that leave nodes running (clocks, a slow disk)."""
    groups: tuple[tuple[int, ...], ...] | None = None
    """partition: the groups, e.g. [[1, 2], [3, 4, 5]]."""
    ms: float | None = None
    """latency: added delay per message (>= 0); clock-jump: the step (negative: back in
    time); disk-slow: added to every write and fsync (> 0)."""
    jitter: float | None = Field(default=None, ge=0)
    p: float | None = Field(default=None, ge=0, le=1)
    """loss: the probability a link is cut in each interval."""
    rate: float | None = Field(default=None, ge=0)
    """bandwidth: KB/s per connection and direction (a whole number); clock-skew: the
    node's clock speed (0.5: half speed, 2: twice as fast; 1 is true time)."""
    mode: Literal["drop", "refuse"] | None = None
    """partitions on real clusters: drop (bytes vanish) or refuse (connections refused)."""

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is None or value in TARGETS or re.fullmatch(r"n[1-9]", value):
            return value
        msg = f"expected one of {', '.join(TARGETS)} or a node such as n3, found {value!r}"
        raise ValueError(msg)

    @model_validator(mode="after")
    def _parameters_fit(self) -> FaultStep:
        kind = self.fault
        allowed = {
            NemesisKind.KILL: {"target"},
            NemesisKind.PAUSE: {"target"},
            NemesisKind.PARTITION: {"groups", "mode"},
            NemesisKind.LATENCY: {"ms", "jitter"},
            NemesisKind.LOSS: {"p"},
            NemesisKind.BANDWIDTH: {"rate"},
            NemesisKind.CLOCK_SKEW: {"target", "rate"},
            NemesisKind.CLOCK_JUMP: {"target", "ms"},
            NemesisKind.DISK_ERROR: {"target"},
            NemesisKind.DISK_FULL: {"target"},
            NemesisKind.DISK_SLOW: {"target", "ms"},
        }.get(kind, {"mode"} if kind.is_partition else set())
        given = {
            name
            for name in ("target", "groups", "ms", "jitter", "p", "rate", "mode")
            if getattr(self, name) is not None
        }
        extra = sorted(given - allowed)
        if extra:
            msg = f"fault {kind.value} takes no {', '.join(extra)}"
            raise ValueError(msg)
        if kind is NemesisKind.PARTITION and not self.groups:
            msg = "fault partition needs groups, e.g. groups: [[1, 2], [3, 4, 5]]"
            raise ValueError(msg)
        self._in_node_fits()
        return self

    def _in_node_fits(self) -> None:
        """The values the in-node faults (and the overloaded ``ms`` / ``rate``) accept."""
        kind = self.fault
        if self.target == "all" and (
            kind in (NemesisKind.KILL, NemesisKind.PAUSE) or kind.stops_node
        ):
            msg = f"fault {kind.value} takes one node as its target, not all"
            raise ValueError(msg)
        ms, rate = self.ms, self.rate
        if ms is not None and kind is NemesisKind.LATENCY and ms < 0:
            msg = f"latency ms must be >= 0, found {ms:g}"
            raise ValueError(msg)
        if ms is not None and kind is NemesisKind.DISK_SLOW and not 0 < ms <= 60_000:
            msg = f"disk-slow ms must lie in (0, 60000], found {ms:g}"
            raise ValueError(msg)
        if ms is not None and kind is NemesisKind.CLOCK_JUMP and not (
            ms != 0 and abs(ms) <= 315_360_000_000
        ):
            msg = f"clock-jump ms must be a non-zero step of at most ten years, found {ms:g}"
            raise ValueError(msg)
        if rate is not None and kind is NemesisKind.BANDWIDTH and rate != int(rate):
            msg = f"bandwidth rate is a whole number of KB/s, found {rate:g}"
            raise ValueError(msg)
        if rate is not None and kind is NemesisKind.CLOCK_SKEW and not 0.001 <= rate <= 1000:
            msg = f"clock-skew rate must lie in 0.001..1000 (1 is true time), found {rate:g}"
            raise ValueError(msg)


class RandomNemesis(Model):
    """Faults generated from the seed: every ``every``, one of ``random`` for ``for``."""

    random: tuple[NemesisKind, ...] = Field(min_length=1)
    every: Seconds = Field(default=10.0, gt=0)
    for_: Seconds = Field(default=5.0, alias="for", gt=0)
    compose: float = Field(default=0.0, ge=0, le=1)
    """The probability that a window also holds a fault of another category."""
    recovery: Seconds = 10.0
    """The quiet tail after the last fault."""

    @model_validator(mode="after")
    def _fits(self) -> RandomNemesis:
        if self.for_ >= self.every:
            msg = f"for ({format_duration(self.for_)}) must be shorter than every " \
                  f"({format_duration(self.every)})"
            raise ValueError(msg)
        return self


class AvailabilityExpect(Model):
    """Bounds on the share of operations answered (ok, or a cas that found another value)."""

    quiet: RatioBound | None = None
    majority: RatioBound | None = None
    minority: RatioBound | None = None
    grace: Seconds | None = None
    """Operations invoked this soon after a fault starts or heals are not counted in
    these bounds (default: one election timeout), as a new leader needs that long."""


class LatencyExpect(Model):
    """Bounds on the latency of ok operations."""

    p50: DurationBound | None = None
    p95: DurationBound | None = None
    p99: DurationBound | None = None
    max: DurationBound | None = None


class Expectations(Model):
    """What must hold for the run to pass."""

    linearizable: bool | None = None
    lost_writes: RatioBound | None = None
    availability: AvailabilityExpect | None = None
    recovery: DurationBound | None = None
    latency: LatencyExpect | None = None


MIN_NODES: dict[NemesisKind, int] = {
    NemesisKind.PARTITION: 2,
    NemesisKind.PARTITION_LEADER: 2,
    NemesisKind.PARTITION_ONE_WAY: 2,
    NemesisKind.PARTITION_HALVES: 2,
    NemesisKind.PARTITION_MAJORITY: 3,
    NemesisKind.PARTITION_BRIDGE: 3,
    NemesisKind.PARTITION_LEADER_ROLLING: 2,
}
"""The smallest cluster each partition makes sense on (one node has no links to cut)."""

FIXED = "fixed-schedule"
RANDOM = "random-schedule"
SCHEMA_TAGS = frozenset({FIXED, RANDOM})
"""Union tags pydantic puts in error locations (the loader leaves them out)."""


def _schedule_kind(value: Any) -> str:
    """A mapping is a random schedule; anything else a fixed list of faults."""
    return RANDOM if isinstance(value, dict | RandomNemesis) else FIXED


class Experiment(Model):
    """One experiment file."""

    name: str = Field(pattern=NAME_PATTERN, max_length=80)
    description: str = ""
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)
    duration: Seconds = Field(gt=0)
    nemesis: Annotated[
        Annotated[tuple[FaultStep, ...], Tag(FIXED)] | Annotated[RandomNemesis, Tag(RANDOM)],
        Discriminator(_schedule_kind),
    ] = ()
    expect: Expectations = Field(default_factory=Expectations)
    seed: int | None = Field(default=None, ge=0)
    """Written into resolved experiments: the seed the run used."""
    backend: Literal["sim", "local", "docker"] | None = None
    """Written into resolved experiments: the backend the run used."""

    @field_validator("nemesis", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @model_validator(mode="after")
    def _schedule_fits(self) -> Experiment:
        kinds = (
            [("@nemesis.random", k) for k in self.nemesis.random]
            if isinstance(self.nemesis, RandomNemesis)
            else [(f"@nemesis.{i}", step.fault) for i, step in enumerate(self.nemesis)]
        )
        for where, kind in kinds:
            least = MIN_NODES.get(kind, 1)
            if self.cluster.nodes < least:
                msg = (
                    f"{where}: {kind.value} needs a cluster of at least {least} nodes, "
                    f"not {self.cluster.nodes}"
                )
                raise ValueError(msg)
        if isinstance(self.nemesis, RandomNemesis):
            if self.nemesis.recovery >= self.duration:
                msg = (
                    f"nemesis.recovery ({format_duration(self.nemesis.recovery)}) must be "
                    f"shorter than duration ({format_duration(self.duration)})"
                )
                raise ValueError(msg)
            return self
        nodes = self.cluster.nodes
        for i, step in enumerate(self.nemesis):
            end = step.at + step.for_
            if end > self.duration:
                msg = (
                    f"@nemesis.{i}: the fault ({step.fault.value} at "
                    f"{format_duration(step.at)} for {format_duration(step.for_)}) ends after "
                    f"the run ({format_duration(self.duration)})"
                )
                raise ValueError(msg)
            named = [step.target] if step.target and step.target.startswith("n") else []
            members = [n for group in step.groups or () for n in group]
            members += [int(t[1:]) for t in named]
            outside = sorted({n for n in members if not 1 <= n <= nodes})
            if outside:
                msg = f"@nemesis.{i}: names node(s) {outside} of a {nodes}-node cluster"
                raise ValueError(msg)
            if step.groups and len(members) != len(set(members)):
                msg = f"@nemesis.{i}.groups: a node is in two groups"
                raise ValueError(msg)
        return self


def with_store(experiment: Experiment, store: str) -> Experiment:
    """``experiment`` on another store (``--store``), validated like the file's own.

    Raises:
        ValueError: ``store`` names no store (the message lists the known ones).
    """
    data = experiment.model_dump(by_alias=True, mode="json")
    data["cluster"]["store"] = check_store_name(store)
    return Experiment.model_validate(data)
