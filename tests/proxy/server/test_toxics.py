"""Each toxic's behaviour on one link, driven through a fake run with a virtual clock."""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.server.decode import DecodeError
from proxy.server.streams import Chunk, Item
from proxy.server.toxics import (
    TOXIC_TYPES,
    Bandwidth,
    Latency,
    LimitData,
    Noop,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
    Toxic,
    build,
)


class FakeRun:
    """A run whose clock only moves when a toxic sleeps; it records sleeps and timers."""

    def __init__(self, toxic: Toxic, *, seed: int = 0, interrupted: bool = False) -> None:
        self.rng = random.Random(seed)
        self.link_state: Any = toxic.new_link_state()
        self.run_state: Any = toxic.new_run_state()
        self.clock = 100.0
        self.sleeps: list[float | None] = []
        self.timers: list[float] = []
        self.interrupted = interrupted

    def now(self) -> float:
        return self.clock

    async def sleep(self, seconds: float | None) -> bool:
        self.sleeps.append(seconds)
        if self.interrupted:
            return False
        if seconds is not None and seconds > 0:
            self.clock += seconds
        return True

    def arm_close_timer(self, seconds: float) -> None:
        self.timers.append(seconds)


def run_pipe(toxic: Toxic, items: list[Item], run: FakeRun) -> list[Item]:
    """Push items through one toxic and collect what it emits."""
    out: list[Item] = []

    async def emit(item: Item) -> None:
        out.append(item)

    async def main() -> None:
        for item in items:
            await toxic.pipe(item, run, emit)

    asyncio.run(main())
    return out


def chunk(data: bytes, stamp: float = 100.0) -> Chunk:
    return Chunk(data=data, stamp=stamp)


class TestLatency:
    def test_holds_until_read_time_plus_latency(self) -> None:
        """A fresh chunk waits the full latency and leaves stamped at read time + latency."""
        run = FakeRun(Latency(latency=250))

        out = run_pipe(Latency(latency=250), [chunk(b"a")], run)

        assert [0.25] == run.sleeps
        assert [chunk(b"a", 100.25)] == out

    def test_counts_time_already_spent(self) -> None:
        """A chunk read 100 ms ago waits only the rest of the latency (throughput is kept)."""
        run = FakeRun(Latency(latency=250))

        run_pipe(Latency(latency=250), [chunk(b"a", stamp=99.9)], run)

        assert pytest.approx([0.15]) == run.sleeps

    @settings(max_examples=50)
    @given(seed=st.integers(0, 2**32), latency=st.integers(0, 1000), jitter=st.integers(1, 500))
    def test_jitter_stays_within_bounds(self, seed: int, latency: int, jitter: int) -> None:
        """Every delay is latency plus an offset in [-jitter, jitter)."""
        toxic = Latency(latency=latency, jitter=jitter)
        run = FakeRun(toxic, seed=seed)

        for _ in range(5):
            run_pipe(toxic, [chunk(b"x", stamp=run.clock)], run)

        waits = [s for s in run.sleeps if s is not None]
        assert all(latency - jitter <= round(w * 1000) < latency + jitter for w in waits), seed

    def test_interrupt_releases_the_chunk_at_once(self) -> None:
        """An interrupted wait lets the held chunk go on unchanged."""
        run = FakeRun(Latency(latency=5000), interrupted=True)

        out = run_pipe(Latency(latency=5000), [chunk(b"held")], run)

        assert [chunk(b"held")] == out

    def test_passes_end_of_stream(self) -> None:
        """End of stream goes on without waiting."""
        run = FakeRun(Latency(latency=100))

        out = run_pipe(Latency(latency=100), [None], run)

        assert ([None], []) == (out, run.sleeps)


class TestBandwidth:
    def test_paces_by_size(self) -> None:
        """10 KB at 100 KB/s costs 0.1 s of waiting."""
        toxic = Bandwidth(rate=100)
        run = FakeRun(toxic)

        out = run_pipe(toxic, [chunk(b"x" * 10_000)], run)

        assert [chunk(b"x" * 10_000)] == out
        assert pytest.approx([0.1]) == run.sleeps

    def test_large_chunks_go_in_100ms_slices(self) -> None:
        """A chunk bigger than rate x 100 bytes leaves in rate x 100-byte slices, 100 ms apart."""
        toxic = Bandwidth(rate=1)
        run = FakeRun(toxic)

        out = run_pipe(toxic, [chunk(b"y" * 250)], run)

        assert [100, 100, 50] == [len(c.data) for c in out if c is not None]
        assert pytest.approx(0.25) == run.clock - 100.0

    def test_rate_zero_stalls_until_interrupted_then_flushes(self) -> None:
        """Rate 0 waits with no end; when interrupted, the data goes on whole."""
        toxic = Bandwidth(rate=0)
        run = FakeRun(toxic, interrupted=True)

        out = run_pipe(toxic, [chunk(b"kept")], run)

        assert ([None], [chunk(b"kept")]) == (run.sleeps, out)


class TestSlowClose:
    def test_delays_only_the_end_of_stream(self) -> None:
        """Data passes at once; the end of stream waits ``delay`` ms."""
        toxic = SlowClose(delay=300)
        run = FakeRun(toxic)

        out = run_pipe(toxic, [chunk(b"d"), None], run)

        assert ([0.3], [chunk(b"d"), None]) == (run.sleeps, out)


class TestTimeout:
    def test_drops_data_and_restarts_the_timer(self) -> None:
        """Chunks vanish, each one re-arming the close timer; end of stream passes."""
        toxic = Timeout(timeout=500)
        run = FakeRun(toxic)
        toxic.on_start(run)

        out = run_pipe(toxic, [chunk(b"a"), chunk(b"b"), None], run)

        assert ([None], [0.5, 0.5, 0.5]) == (out, run.timers)

    def test_zero_drops_forever_without_a_timer(self) -> None:
        """timeout 0 drops data and never arms a timer."""
        toxic = Timeout(timeout=0)
        run = FakeRun(toxic)
        toxic.on_start(run)

        out = run_pipe(toxic, [chunk(b"a")], run)

        assert ([], []) == (out, run.timers)


class TestResetPeer:
    def test_drops_the_first_chunk_and_closes(self) -> None:
        """The first chunk is dropped and the link is closed (None)."""
        out = run_pipe(ResetPeer(timeout=0), [chunk(b"a")], FakeRun(ResetPeer()))

        assert [None] == out


class TestLimitData:
    def test_cuts_the_crossing_chunk_then_closes(self) -> None:
        """With 5 bytes allowed, 3 + the first 2 of the next chunk pass, then the link closes."""
        toxic = LimitData(bytes=5)
        run = FakeRun(toxic)

        out = run_pipe(toxic, [chunk(b"abc"), chunk(b"defg")], run)

        assert [chunk(b"abc"), chunk(b"de"), None] == out

    def test_zero_closes_on_the_first_chunk(self) -> None:
        """bytes 0 forwards nothing and closes when data first arrives."""
        out = run_pipe(LimitData(bytes=0), [chunk(b"a")], FakeRun(LimitData()))

        assert [None] == out

    def test_count_survives_an_update(self) -> None:
        """The per-link count is kept when the limit is raised."""
        run = FakeRun(LimitData())
        run_pipe(LimitData(bytes=4), [chunk(b"abc")], run)

        out = run_pipe(LimitData(bytes=6), [chunk(b"defgh")], run)

        assert [chunk(b"def"), None] == out


class TestSlicer:
    @settings(max_examples=100)
    @given(
        seed=st.integers(0, 2**32),
        size=st.integers(1, 40_000),
        average=st.integers(0, 5000),
        variation=st.integers(0, 2000),
    )
    def test_pieces_cover_the_chunk_and_fit(
        self, seed: int, size: int, average: int, variation: int
    ) -> None:
        """Pieces are non-empty, in order, cover the chunk, and fit avg+variation (or are 1 B)."""
        toxic = Slicer(average_size=average, size_variation=variation)

        points = toxic.cut_points(size, random.Random(seed))

        lengths = [b - a for a, b in itertools.pairwise(points)]
        assert (0, size) == (points[0], points[-1]), seed
        assert all(1 <= n <= max(1, average + variation) for n in lengths), seed

    def test_emits_pieces_with_delays(self) -> None:
        """80 bytes at average 10 are halved into eight 10-byte pieces, each then a delay."""
        toxic = Slicer(average_size=10, delay=2000)
        run = FakeRun(toxic)

        out = run_pipe(toxic, [chunk(bytes(range(80)))], run)

        assert [bytes(range(i, i + 10)) for i in range(0, 80, 10)] == [
            c.data for c in out if c is not None
        ]
        assert pytest.approx([0.002] * 8) == run.sleeps

    def test_interrupt_sends_the_rest_at_once(self) -> None:
        """When interrupted after the first piece, the remainder goes on as one chunk."""
        toxic = Slicer(average_size=10, delay=2000)

        out = run_pipe(toxic, [chunk(bytes(40))], FakeRun(toxic, interrupted=True))

        assert [10, 30] == [len(c.data) for c in out if c is not None]


class TestNoop:
    def test_passes_everything(self) -> None:
        """noop changes nothing."""
        out = run_pipe(Noop(), [chunk(b"a"), None], FakeRun(Noop()))

        assert [chunk(b"a"), None] == out


class TestBuild:
    def test_every_type_has_int_attributes_defaulting_to_zero(self) -> None:
        """An empty attributes object gives every attribute 0."""
        attributes = {name: build(cls, {}).attributes() for name, cls in TOXIC_TYPES.items()}

        assert {
            "noop": {},
            "latency": {"latency": 0, "jitter": 0},
            "bandwidth": {"rate": 0},
            "slow_close": {"delay": 0},
            "timeout": {"timeout": 0},
            "reset_peer": {"timeout": 0},
            "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
            "limit_data": {"bytes": 0},
        } == attributes

    def test_update_changes_only_given_keys(self) -> None:
        """Given keys change, others keep their values, unknown keys are ignored."""
        toxic = build(Latency, {"jitter": 7, "nope": 1}, base=Latency(latency=100, jitter=1))

        assert Latency(latency=100, jitter=7) == toxic

    @pytest.mark.parametrize("value", [1.5, 100.0, "100", True, [1], {"a": 1}, 2**63])
    def test_non_int64_attribute_is_rejected(self, value: object) -> None:
        """Floats (even integral ones), strings, bools, containers and overflows are refused."""
        with pytest.raises(DecodeError) as caught:
            build(Latency, {"latency": value})

        assert str(caught.value).startswith("json: cannot unmarshal ")
