"""The shared client policy: routing, retries, honest outcomes and the circuit breaker."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.client.outcome import InvalidRequest
from nodes.client.policy import (
    Attempted,
    Backoff,
    BreakerPolicy,
    BreakerState,
    ClientPolicy,
    Finish,
    Result,
    RetryPolicy,
    Router,
    Send,
)

MS = 1_000_000


def router(
    routing: str = "any",
    *,
    breaker: BreakerPolicy | None = None,
    home: int | None = 1,
    events: list[tuple[int, BreakerState]] | None = None,
    **retry: float,
) -> Router[int]:
    policy = ClientPolicy(routing=routing, retry=RetryPolicy(**retry), breaker=breaker)  # type: ignore[arg-type]
    log = events if events is not None else []
    return Router(
        [1, 2, 3],
        policy,
        random.Random(7),
        home=home,
        on_breaker=lambda node, state, _now: log.append((node, state)),
    )


def drive(
    op_router: Router[int], kind: str, results: list[Attempted[int]], step_ns: int = MS
) -> tuple[Finish, list[int]]:
    """Run one operation against scripted attempt results; returns how it ended and where
    its attempts went."""
    now = 0
    operation = op_router.begin(kind, now)  # type: ignore[arg-type]
    targets = []
    script = iter(results)
    while True:
        step = operation.next(now)
        if isinstance(step, Finish):
            return step, targets
        assert isinstance(step, Send)
        targets.append(step.target)
        attempted = next(script, Attempted(result=Result.TIMEOUT))
        now += step_ns if attempted.result is not Result.TIMEOUT else step.timeout_ns
        after = operation.record(step.target, attempted, now)
        if isinstance(after, Finish):
            return after, targets
        assert isinstance(after, Backoff)
        now += after.delay_ns


class TestOutcomes:
    """Completions are honest about whether an operation took effect."""

    def test_ok_is_ok_with_the_value(self) -> None:
        """A served read is ok with what it read."""
        done, _ = drive(router(), "read", [Attempted(result=Result.OK, value="5")])

        assert ("ok", "5") == (done.completion.status, done.completion.value)

    def test_write_that_timed_out_is_info(self) -> None:
        """A write whose attempts all timed out may have applied: info."""
        done, _ = drive(router(timeout_s=1.0), "write", [])

        assert "info" == done.completion.status

    def test_read_that_timed_out_is_fail(self) -> None:
        """A read that never got an answer observed nothing: fail."""
        done, _ = drive(router(timeout_s=1.0), "read", [])

        assert "fail" == done.completion.status

    def test_refusals_only_are_fail(self) -> None:
        """Definite refusals until the deadline: the write certainly did not apply."""
        refusals = [Attempted(result=Result.UNAVAILABLE)] * 1000
        done, _ = drive(router(timeout_s=0.5), "write", refusals, step_ns=10 * MS)

        assert "fail" == done.completion.status

    def test_unknown_then_refusals_stay_info(self) -> None:
        """Once an attempt may have applied, later refusals cannot make it fail."""
        results = [Attempted(result=Result.UNKNOWN)] + [Attempted(result=Result.UNAVAILABLE)] * 999
        done, _ = drive(router(timeout_s=0.5), "write", results, step_ns=10 * MS)

        assert "info" == done.completion.status

    def test_mismatch_is_fail_with_mismatch(self) -> None:
        """A cas that found another value failed, and says so."""
        done, _ = drive(router(), "write", [Attempted(result=Result.MISMATCH, value="9")])

        assert ("fail", "mismatch", "9") == (
            done.completion.status,
            done.completion.error,
            done.completion.value,
        )

    @pytest.mark.parametrize("maybe", [Result.TIMEOUT, Result.UNKNOWN])
    def test_without_sessions_a_write_that_may_have_applied_is_not_retried(
        self, maybe: Result
    ) -> None:
        """retry_unknown_writes=False (a store without client sessions): the write ends as
        info after its first maybe-applied attempt; no retry could apply it twice or report
        a mismatch it caused itself."""
        scripted = [Attempted(result=maybe), Attempted(result=Result.MISMATCH, value="9")]
        done, targets = drive(router(retry_unknown_writes=False), "write", scripted)

        assert (1, "info") == (len(targets), done.completion.status)

    def test_without_sessions_refused_writes_and_reads_are_still_retried(self) -> None:
        """Definite refusals change nothing, so they are retried as before."""
        scripted = [Attempted(result=Result.UNAVAILABLE), Attempted(result=Result.OK)]
        write, _ = drive(router(retry_unknown_writes=False), "write", scripted)
        read, _ = drive(
            router(retry_unknown_writes=False), "read",
            [Attempted(result=Result.TIMEOUT), Attempted(result=Result.OK, value="1")],
        )

        assert ("ok", "ok") == (write.completion.status, read.completion.status)

    def test_max_attempts_bounds_the_attempts(self) -> None:
        """With max_attempts 2, a third attempt is never sent."""
        done, targets = drive(
            router(max_attempts=2), "read", [Attempted(result=Result.UNAVAILABLE)] * 5
        )

        assert (2, "fail") == (len(targets), done.completion.status)

    @settings(max_examples=200, deadline=None)
    @given(
        results=st.lists(st.sampled_from(list(Result)), max_size=30),
        kind=st.sampled_from(["read", "write"]),
    )
    def test_never_claims_more_than_it_knows(self, results: list[Result], kind: str) -> None:
        """ok only after an OK; fail never after a write attempt that may have applied."""
        attempted = [Attempted(result=r) for r in results]
        done, targets = drive(router(timeout_s=0.2), kind, attempted, step_ns=5 * MS)
        seen = results[: len(targets)]
        status = done.completion.status
        if status == "ok":
            assert Result.OK == seen[-1]
        if kind == "write" and status == "fail" and done.completion.error != "mismatch":
            assert not {Result.UNKNOWN, Result.TIMEOUT} & set(seen)
        if kind == "read":
            assert "info" != status


class TestRouting:
    """Home routing never hops; any routing follows hints and moves on."""

    def test_home_never_hops(self) -> None:
        """Every attempt of a home-bound client goes to its home, whatever the hints."""
        hints = [Attempted(result=Result.NOT_LEADER, hint=2)] * 20
        _, targets = drive(router("home", home=3, timeout_s=0.2), "write", hints, 5 * MS)

        assert {3} == set(targets)

    def test_any_follows_a_fresh_hint_at_once(self) -> None:
        """A NOT_LEADER naming another node sends the next attempt there."""
        script = [Attempted(result=Result.NOT_LEADER, hint=2), Attempted(result=Result.OK)]
        done, targets = drive(router("any", home=1), "write", script)

        assert ([1, 2], 2) == (targets, done.completion.target)

    def test_home_routing_needs_a_home(self) -> None:
        """Home routing without a home among the targets is a usage error."""
        with pytest.raises(InvalidRequest, match="home routing"):
            router("home", home=9)


class TestBreaker:
    """The circuit breaker opens, fails fast, probes and closes."""

    def test_opens_after_consecutive_failures_and_fails_fast(self) -> None:
        """After 3 failures the next operation fails at once, unsent, while open."""
        events: list[tuple[int, BreakerState]] = []
        r = router(
            "home",
            breaker=BreakerPolicy(failures=3, open_s=1.0),
            events=events,
            timeout_s=0.05,
            attempt_timeout_s=0.01,
        )
        drive(r, "read", [Attempted(result=Result.UNAVAILABLE)] * 3, step_ns=MS)
        operation = r.begin("read", 20 * MS)
        step = operation.next(20 * MS)

        assert isinstance(step, Finish)
        assert ("fail", [(1, BreakerState.OPEN)]) == (step.completion.status, events)

    def test_half_open_probe_success_closes(self) -> None:
        """After open_s one probe goes through; its success closes the breaker."""
        events: list[tuple[int, BreakerState]] = []
        r = router("home", breaker=BreakerPolicy(failures=1, open_s=0.1), events=events)
        r.report(1, Result.TIMEOUT, 0)
        assert not r.allows(1, 50 * MS)
        assert r.allows(1, 200 * MS)
        assert not r.allows(1, 201 * MS)  # one probe only
        r.report(1, Result.OK, 210 * MS)

        assert [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED] == [
            s for _, s in events
        ]

    def test_half_open_probe_failure_reopens(self) -> None:
        """A failed probe opens the breaker again."""
        r = router("home", breaker=BreakerPolicy(failures=1, open_s=0.1))
        r.report(1, Result.TIMEOUT, 0)
        r.allows(1, 200 * MS)
        r.report(1, Result.UNAVAILABLE, 210 * MS)

        assert BreakerState.OPEN == r.breaker_state(1)


def attempt(op_router: Router[int], kind: str, result: Result, took_ns: int,
            start: int = 0) -> int:
    """One single-attempt operation taking ``took_ns``; returns the deadline it was given."""
    operation = op_router.begin(kind, start)  # type: ignore[arg-type]
    step = operation.next(start)
    assert isinstance(step, Send)
    operation.record(step.target, Attempted(result=result), start + took_ns)
    return step.timeout_ns


class TestAdaptiveAttemptTimeout:
    """An attempt's deadline follows the node's round trip, as TCP's retransmission timer."""

    def test_fast_answers_keep_the_configured_deadline(self) -> None:
        """Round trips far below the floor leave the deadline at ``attempt_timeout_s``."""
        r = router("home", timeout_s=5.0, attempt_timeout_s=0.3)
        deadlines = [attempt(r, "read", Result.OK, 2 * MS) for _ in range(20)]

        assert {300 * MS} == set(deadlines)

    def test_slow_answers_stretch_the_deadline(self) -> None:
        """Answers that take 400 ms move the deadline above them (srtt + 4 rttvar)."""
        r = router("home", timeout_s=5.0, attempt_timeout_s=0.3)
        for _ in range(30):
            attempt(r, "write", Result.OK, 400 * MS)

        assert 400 * MS < r.attempt_timeout_ns(1) < 600 * MS

    def test_a_timeout_doubles_and_an_answer_resets(self) -> None:
        """Each attempt that ran out of time doubles the next deadline; an answer ends it."""
        r = router("home", timeout_s=5.0, attempt_timeout_s=0.3)
        first = attempt(r, "write", Result.TIMEOUT, 300 * MS)
        second = attempt(r, "write", Result.UNKNOWN, 600 * MS)
        third = r.attempt_timeout_ns(1)
        attempt(r, "write", Result.OK, 10 * MS)

        assert (300 * MS, 600 * MS, 1200 * MS) == (first, second, third)
        assert 300 * MS == r.attempt_timeout_ns(1)

    def test_the_operation_deadline_caps_every_attempt(self) -> None:
        """However long the estimate, an attempt never outlives its operation."""
        r = router("home", timeout_s=1.0, attempt_timeout_s=0.3)
        for _ in range(8):
            attempt(r, "write", Result.TIMEOUT, 300 * MS)

        assert 1000 * MS == attempt(r, "write", Result.OK, 5 * MS)

    def test_each_node_has_its_own_estimate(self) -> None:
        """A slow node does not stretch the deadline of a fast one."""
        r = router("any", timeout_s=5.0, attempt_timeout_s=0.3)
        r.time_attempt(2, Result.TIMEOUT, 300 * MS)

        assert (300 * MS, 600 * MS) == (r.attempt_timeout_ns(1), r.attempt_timeout_ns(2))

    def test_unreachable_neither_samples_nor_doubles(self) -> None:
        """A refused connection says nothing about the round trip."""
        r = router("home", timeout_s=5.0, attempt_timeout_s=0.3)
        r.time_attempt(1, Result.UNREACHABLE, 900 * MS)

        assert 300 * MS == r.attempt_timeout_ns(1)

    def test_fixed_when_adaptation_is_off(self) -> None:
        """``adaptive_attempt_timeout=False``: each attempt waits exactly the configured time."""
        policy = ClientPolicy(routing="home", retry=RetryPolicy(
            timeout_s=5.0, attempt_timeout_s=0.3, adaptive_attempt_timeout=False))
        r: Router[int] = Router([1, 2, 3], policy, random.Random(7), home=1)
        for _ in range(5):
            attempt(r, "write", Result.TIMEOUT, 300 * MS)
            attempt(r, "write", Result.OK, 900 * MS)

        assert 300 * MS == attempt(r, "write", Result.OK, 1 * MS)

    @settings(max_examples=200, deadline=None)
    @given(took=st.lists(st.tuples(st.sampled_from(list(Result)), st.integers(0, 3 * 10**9)),
                         max_size=40))
    def test_deadline_bounds(self, took: list[tuple[Result, int]]) -> None:
        """Whatever happened, the next deadline lies between the floor and the op's deadline."""
        r = router("home", timeout_s=2.0, attempt_timeout_s=0.3)
        for result, ns in took:
            r.time_attempt(1, result, ns)

        assert 300 * MS <= attempt(r, "write", Result.OK, 1) <= 2000 * MS
