"""The client's retry, routing and circuit-breaker rules, as a sans-IO state machine.

Rules: no IO, no clocks, no asyncio: time is an argument (integer nanoseconds on
the caller's clock) and randomness comes from an injected ``random.Random``. The
real client (``nodes.client.aio``) and the simulator's clients drive this same
code, so an operation is retried, routed and classified identically everywhere.

How one operation runs (the driver's loop)::

    op = router.begin(kind, now)
    while True:
        step = op.next(now)                 # Send(target, timeout) or Finish(completion)
        if isinstance(step, Finish): break
        result = <send to step.target, wait at most step.timeout_ns>
        step = op.record(step.target, result, now)   # Backoff(delay) or Finish
        if isinstance(step, Finish): break
        <sleep step.delay_ns>

Honesty (the history vocabulary): ``ok`` took effect; ``fail`` certainly took no
effect (or a read that observed nothing, or a cas that found another value:
``error: "mismatch"``); ``info`` is a write whose effect is unknown because some
attempt may have reached the store (a timeout, an UNKNOWN reply) and no later
answer settled it. Reads are ``fail`` when they time out: they change nothing.

Routing: ``home`` sends every attempt to the client's own node and never hops
(the node forwards what it cannot serve), so a client stands on its node's side
of a partition; ``any`` follows NOT_LEADER hints and, after a failure, moves on
to the next node, as a "smart" library client does.

Attempt deadlines (adaptive by default, per node, per client): an attempt waits
``attempt_timeout_s`` at least; like TCP's retransmission timer (RFC 6298), each answered
attempt feeds a smoothed round trip and its variation, and the deadline is
``max(attempt_timeout_s, srtt + 4 * rttvar)``; an attempt that ran out of time (a timeout,
an UNKNOWN) doubles the node's deadline until an answer comes back. So a client on a slow
link stops abandoning attempts that were about to succeed, and on a fast one it keeps
the configured deadline. The operation's own deadline (``timeout_s``) bounds every attempt.

Circuit breaker (optional, per node, per client): after ``failures`` consecutive
failed attempts to a node it *opens*: attempts to it fail at once, without being
sent, for ``open_s``; then it is *half-open*: ``probes`` attempts may go through;
a success closes it, a failure opens it again. Every state change is reported to
the router's ``on_breaker`` callback (the runner records it in ``events.jsonl``).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from nodes.client.outcome import InvalidRequest, OutcomeStatus

Target = TypeVar("Target", bound=Hashable)
"""Where an attempt goes: an address string (real client) or a node id (simulator)."""

OpKind = Literal["read", "write"]
Routing = Literal["home", "any"]
ROUTINGS: tuple[Routing, ...] = ("home", "any")
NS_PER_S = 1_000_000_000


class Result(enum.Enum):
    """What one attempt produced, as far as the policy cares."""

    OK = "ok"
    """Took effect (a write) or was served (a read); ``value`` is what it returned."""
    MISMATCH = "mismatch"
    """A cas was executed and found another value (``value``); it wrote nothing."""
    NOT_LEADER = "not-leader"
    """Certainly not applied; ``hint`` may name the leader."""
    UNAVAILABLE = "unavailable"
    """Certainly not applied or served (no quorum, node stopping, ...)."""
    UNKNOWN = "unknown"
    """The store says the write may or may not take effect."""
    TIMEOUT = "timeout"
    """No answer within the attempt's deadline: a write may have been applied."""
    UNREACHABLE = "unreachable"
    """The request certainly never reached the store (connection refused)."""
    REJECTED = "rejected"
    """A final refusal of this attempt (e.g. a stale session sequence): do not retry; the
    operation failed unless an earlier attempt may have applied it."""
    INVALID = "invalid"
    """The store refused the request as malformed: certainly not applied, do not retry."""


_BREAKER_NEUTRAL = frozenset({Result.OK, Result.MISMATCH, Result.REJECTED, Result.INVALID})
"""Results that show the node is answering: they reset its breaker's failure count."""
_MAYBE_APPLIED = frozenset({Result.UNKNOWN, Result.TIMEOUT})


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempted(Generic[Target]):
    """The result of one attempt (see ``Result``)."""

    result: Result
    value: Any = None
    hint: Target | None = None
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Retries with exponential back-off and full jitter, inside a total deadline."""

    timeout_s: float = 1.0
    """Total deadline of one operation, retries included."""
    attempt_timeout_s: float = 0.3
    """Deadline of one attempt."""
    backoff_base_s: float = 0.005
    """The first back-off cap; it doubles per attempt up to ``backoff_max_s``."""
    backoff_max_s: float = 0.1
    max_attempts: int | None = None
    """Give up after this many attempts (None: only the deadline bounds them)."""
    adaptive_attempt_timeout: bool = True
    """Stretch an attempt's deadline to the node's measured round trip (see the module
    docstring); False: every attempt waits exactly ``attempt_timeout_s``."""
    retry_unknown_writes: bool = True
    """Retry a write after an attempt that may have applied it (a timeout, UNKNOWN). Safe
    only where the store applies a retried command once (chaoslab's client sessions); a
    store without them (etcd) must end such a write as ``info`` instead, or a put could
    apply twice around another write and a retried cas report a mismatch it caused."""

    def __post_init__(self) -> None:
        if not self.timeout_s > 0 or not self.attempt_timeout_s > 0:
            msg = (
                f"timeouts must be positive (timeout {self.timeout_s} s, attempt "
                f"{self.attempt_timeout_s} s)"
            )
            raise InvalidRequest(msg)
        if self.backoff_base_s < 0 or self.backoff_max_s < self.backoff_base_s:
            msg = (
                f"back-off must satisfy 0 <= base ({self.backoff_base_s} s) <= max "
                f"({self.backoff_max_s} s)"
            )
            raise InvalidRequest(msg)
        if self.max_attempts is not None and self.max_attempts < 1:
            msg = f"max_attempts must be at least 1, got {self.max_attempts}"
            raise InvalidRequest(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    """A per-node circuit breaker (see the module docstring)."""

    failures: int = 5
    """Consecutive failed attempts that open the breaker."""
    open_s: float = 1.0
    """How long it stays open before letting probes through."""
    probes: int = 1
    """Attempts allowed while half-open."""

    def __post_init__(self) -> None:
        if self.failures < 1 or self.probes < 1 or not self.open_s > 0:
            msg = (
                f"breaker needs failures >= 1, probes >= 1 and open_s > 0 (got "
                f"{self.failures}, {self.probes}, {self.open_s})"
            )
            raise InvalidRequest(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientPolicy:
    """Everything that decides how a client routes and retries."""

    routing: Routing = "any"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy | None = None
    """None: no circuit breaker."""

    def __post_init__(self) -> None:
        if self.routing not in ROUTINGS:
            msg = f"routing {self.routing!r}: expected one of {', '.join(ROUTINGS)}"
            raise InvalidRequest(msg)


class BreakerState(enum.StrEnum):
    """A circuit breaker's states."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(slots=True)
class _Breaker:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    until: int = 0
    """OPEN: when it turns half-open (ns)."""
    probes: int = 0
    """HALF_OPEN: probes still allowed."""


@dataclass(slots=True)
class _RoundTrip:
    """One node's round-trip estimate (RFC 6298's SRTT and RTTVAR, in ns) and how many
    times its deadline was doubled since the last answer."""

    srtt: int | None = None
    rttvar: int = 0
    doublings: int = 0

    def sample(self, took: int) -> None:
        self.doublings = 0
        if self.srtt is None:
            self.srtt, self.rttvar = took, took // 2
            return
        self.rttvar = (3 * self.rttvar + abs(self.srtt - took)) // 4
        self.srtt = (7 * self.srtt + took) // 8


MAX_DOUBLINGS = 6
"""An unanswered node's deadline grows at most 64-fold (the operation's deadline caps it
long before that with the usual settings)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """How an operation ended (the history's completion)."""

    status: OutcomeStatus
    value: Any = None
    error: str | None = None
    target: Any = None
    """The target that gave the deciding answer (None when none did)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Send(Generic[Target]):
    """Send the next attempt to ``target`` and wait at most ``timeout_ns``."""

    target: Target
    timeout_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Wait ``delay_ns``, then ask ``next`` again."""

    delay_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    """The operation is over."""

    completion: Completion


BreakerListener = Callable[[Any, BreakerState, int], None]
"""Called as ``on_breaker(target, new_state, now_ns)``."""


class Router(Generic[Target]):
    """One client's routing state across operations: its home, the leader it believes
    in, and a breaker per target.

    Args:
        targets: every node the client may talk to, in order.
        policy: routing, retries and breaker.
        rng: the only source of randomness (back-off jitter, the first target).
        home: the client's own node (required for ``home`` routing; with ``any`` it is
            where reads start).
        on_breaker: told of every breaker state change.

    Raises:
        InvalidRequest: no targets, or ``home`` routing without a home among them.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        policy: ClientPolicy,
        rng: random.Random,
        *,
        home: Target | None = None,
        on_breaker: BreakerListener | None = None,
    ) -> None:
        if not targets:
            msg = "a client needs at least one node to talk to"
            raise InvalidRequest(msg)
        if policy.routing == "home" and (home is None or home not in targets):
            msg = f"home routing needs a home among the targets, got {home!r}"
            raise InvalidRequest(msg)
        self.targets: tuple[Target, ...] = tuple(targets)
        self.policy = policy
        self.rng = rng
        self.home = home
        self.on_breaker = on_breaker
        self.leader: Target | None = None
        """The node writes go to under ``any`` routing (learnt from answers and hints)."""
        self._next = self.targets.index(home) if home is not None else rng.randrange(
            len(self.targets)
        )
        self._breakers: dict[Target, _Breaker] = {}
        self._round_trips: dict[Target, _RoundTrip] = {}

    def begin(self, kind: OpKind, now: int) -> Operation[Target]:
        """Start one operation at ``now`` (ns)."""
        return Operation(self, kind, now)

    # ---- routing ------------------------------------------------------------

    def choose(self, kind: OpKind, now: int) -> Target | None:
        """The target of the next attempt, or None when every candidate's breaker is open."""
        if self.policy.routing == "home":
            assert self.home is not None
            return self.home if self.allows(self.home, now) else None
        preferred = self.leader if kind == "write" else None
        if preferred is not None and self.allows(preferred, now):
            return preferred
        for _ in range(len(self.targets)):
            target = self.targets[self._next % len(self.targets)]
            self._next += 1
            if self.allows(target, now):
                return target
        return None

    def learn(self, kind: OpKind, target: Target, attempted: Attempted[Target]) -> None:
        """Update the believed leader from an attempt's result (``any`` routing)."""
        result = attempted.result
        if result is Result.OK and kind == "write":
            self.leader = target
        elif result is Result.NOT_LEADER:
            self.leader = attempted.hint  # may name a node the client was not given
        elif result not in _BREAKER_NEUTRAL and self.leader == target:
            self.leader = None

    # ---- attempt deadlines ---------------------------------------------------

    def attempt_timeout_ns(self, target: Target) -> int:
        """How long the next attempt to ``target`` may wait (before the operation's cap)."""
        retry = self.policy.retry
        floor = int(retry.attempt_timeout_s * NS_PER_S)
        rt = self._round_trips.get(target)
        if not retry.adaptive_attempt_timeout or rt is None:
            return floor
        estimate = floor if rt.srtt is None else max(floor, rt.srtt + 4 * rt.rttvar)
        return estimate << rt.doublings

    def time_attempt(self, target: Target, result: Result, took: int) -> None:
        """Feed one attempt's result and duration into ``target``'s deadline."""
        if not self.policy.retry.adaptive_attempt_timeout:
            return
        rt = self._round_trips.setdefault(target, _RoundTrip())
        if result in _MAYBE_APPLIED:  # ran out of time: wait longer next time
            rt.doublings = min(MAX_DOUBLINGS, rt.doublings + 1)
        elif result is not Result.UNREACHABLE:  # an answer: a round trip was measured
            rt.sample(max(0, took))

    # ---- the breakers --------------------------------------------------------

    def breaker_state(self, target: Target) -> BreakerState:
        """The breaker state of ``target`` (closed when there is no breaker)."""
        breaker = self._breakers.get(target)
        return BreakerState.CLOSED if breaker is None else breaker.state

    def allows(self, target: Target, now: int) -> bool:
        """Whether an attempt may go to ``target`` now (a half-open probe is taken)."""
        policy = self.policy.breaker
        if policy is None:
            return True
        breaker = self._breakers.setdefault(target, _Breaker())
        if breaker.state is BreakerState.OPEN:
            if now < breaker.until:
                return False
            breaker.probes = policy.probes
            self._move(target, breaker, BreakerState.HALF_OPEN, now)
        if breaker.state is BreakerState.HALF_OPEN:
            if breaker.probes <= 0:
                return False
            breaker.probes -= 1
        return True

    def report(self, target: Target, result: Result, now: int) -> None:
        """Count an attempt's result against ``target``'s breaker."""
        policy = self.policy.breaker
        if policy is None:
            return
        breaker = self._breakers.setdefault(target, _Breaker())
        if result in _BREAKER_NEUTRAL:
            breaker.failures = 0
            if breaker.state is not BreakerState.CLOSED:
                self._move(target, breaker, BreakerState.CLOSED, now)
            return
        breaker.failures += 1
        if breaker.state is BreakerState.HALF_OPEN or (
            breaker.state is BreakerState.CLOSED and breaker.failures >= policy.failures
        ):
            breaker.until = now + int(policy.open_s * NS_PER_S)
            self._move(target, breaker, BreakerState.OPEN, now)

    def _move(self, target: Target, breaker: _Breaker, state: BreakerState, now: int) -> None:
        breaker.state = state
        if state is BreakerState.CLOSED:
            breaker.failures = 0
        if self.on_breaker is not None:
            self.on_breaker(target, state, now)

    def backoff_ns(self, attempt: int) -> int:
        """Full-jitter back-off after ``attempt`` attempts."""
        retry = self.policy.retry
        cap = min(retry.backoff_max_s, retry.backoff_base_s * 2 ** min(attempt, 16))
        return int(self.rng.uniform(0, cap) * NS_PER_S)


class Operation(Generic[Target]):
    """One operation's attempts, decided by its router's policy (see the module docstring)."""

    def __init__(self, router: Router[Target], kind: OpKind, now: int) -> None:
        self.router = router
        self.kind = kind
        retry = router.policy.retry
        self.deadline = now + int(retry.timeout_s * NS_PER_S)
        self.attempts = 0
        self.maybe_applied = False
        """Some attempt may have reached the store and applied the write."""
        self.last_error = "no attempt was made"
        self._answered_by: Target | None = None
        self._sent_at = now

    def next(self, now: int) -> Send[Target] | Finish:
        """Where the next attempt goes, or the end of the operation."""
        router = self.router
        retry = router.policy.retry
        remaining = self.deadline - now
        if remaining <= 0 or (
            retry.max_attempts is not None and self.attempts >= retry.max_attempts
        ):
            return self._give_up(f"gave up after {self.attempts} attempt(s): {self.last_error}")
        target = router.choose(self.kind, now)
        if target is None:
            self.last_error = "circuit breaker open"
            return self._give_up("circuit breaker open: not sent")
        self.attempts += 1
        self._sent_at = now
        timeout = min(remaining, router.attempt_timeout_ns(target))
        return Send(target=target, timeout_ns=timeout)

    def record(self, target: Target, attempted: Attempted[Target], now: int) -> Backoff | Finish:
        """Take an attempt's result: finish, or back off before the next attempt."""
        router = self.router
        result = attempted.result
        router.report(target, result, now)
        router.learn(self.kind, target, attempted)
        router.time_attempt(target, result, now - self._sent_at)
        if result is Result.OK:
            return Finish(completion=Completion(status="ok", value=attempted.value, target=target))
        if result is Result.MISMATCH:
            return Finish(
                completion=Completion(
                    status="fail", value=attempted.value, error="mismatch", target=target
                )
            )
        self.last_error = f"{result.value}: {attempted.error}" if attempted.error else result.value
        if result in (Result.INVALID, Result.REJECTED):
            # A refusal of this attempt says nothing of an earlier one that may have applied
            # (a stale session sequence means a newer command of the session got through).
            self._answered_by = target
            return self._give_up(self.last_error)
        if self.kind == "write" and result in _MAYBE_APPLIED:
            self.maybe_applied = True
        self._answered_by = target
        if self.maybe_applied and not router.policy.retry.retry_unknown_writes:
            return self._give_up(self.last_error)
        if (
            result is Result.NOT_LEADER
            and router.policy.routing == "any"
            and attempted.hint is not None
            and attempted.hint != target
        ):
            return Backoff(delay_ns=0)  # a fresh redirect: follow it at once
        delay = router.backoff_ns(self.attempts)
        return Backoff(delay_ns=min(delay, max(0, self.deadline - now)))

    def _give_up(self, error: str) -> Finish:
        status: OutcomeStatus = "info" if self.kind == "write" and self.maybe_applied else "fail"
        return Finish(completion=Completion(status=status, error=error, target=self._answered_by))
