"""Crashes at every write boundary, and random save/crash sequences, never lose acknowledged data.

Each run drives the same operations through WalStorage over SimFileSystem
(with torn writes) and through MemoryStorage (the reference model), crashes
the disk, recovers, and checks that the recovered state is the model's state
after the acknowledged operations, or after the one in flight when the crash
hit (which may have become durable before it could be acknowledged).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.raft.messages import Entry, HardState, RestoredState, Snapshot, SnapshotMeta
from nodes.storage import MemoryStorage, SimFileSystem, SimulatedCrash, Storage, WalStorage

DIR = PurePosixPath("/data/n1")
SEGMENT_BYTES = 256

Operation = Callable[[Storage], None]


def batch(first: int, last: int, term: int, size: int = 4) -> list[Entry]:
    """Entries first..last of one term with ``size`` bytes of data each."""
    return [Entry(term=term, index=i, data=bytes([i % 251]) * size) for i in range(first, last + 1)]


def save(hard_state: HardState | None, entries: Sequence[Entry]) -> Operation:
    """An operation that saves one Ready batch."""
    return lambda storage: storage.save(hard_state=hard_state, entries=entries)


def snap(index: int, term: int) -> Operation:
    """An operation that saves a snapshot at (index, term)."""
    snapshot = Snapshot(meta=SnapshotMeta(index=index, term=term, voters=(1, 2, 3)), data=b"s")
    return lambda storage: storage.save_snapshot(snapshot)


SCRIPT: list[Operation] = [
    save(HardState(term=1, vote=1), batch(1, 3, 1)),
    save(HardState(term=1, vote=1, commit=2), batch(4, 8, 1)),
    save(HardState(term=2, vote=2, commit=2), batch(4, 6, 2)),  # suffix overwrite
    snap(3, 1),  # compaction keeping the suffix
    save(None, batch(7, 20, 2, size=24)),  # rolls over several segments
    save(HardState(term=2, vote=2, commit=15), []),  # commit only: nothing written
    save(HardState(term=3, vote=0, commit=15), []),  # a new term is durable before its data
    snap(25, 3),  # installed from a leader: the log is replaced
    save(HardState(term=3, vote=0, commit=25), batch(26, 28, 3)),
    snap(27, 3),
    save(None, batch(29, 30, 3)),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a run acknowledged before it crashed."""

    acknowledged: int
    in_flight: bool
    steps: int


def drive(fs: SimFileSystem, operations: Sequence[Operation], crash_after: int | None) -> Outcome:
    """Load storage and run operations until done or the scheduled crash."""
    fs.crash_after(crash_after)
    storage = WalStorage(fs, DIR, segment_bytes=SEGMENT_BYTES)
    done = 0
    try:
        storage.load()
        for operation in operations:
            operation(storage)
            done += 1
    except SimulatedCrash:
        return Outcome(acknowledged=done, in_flight=True, steps=fs.steps)
    return Outcome(acknowledged=done, in_flight=False, steps=fs.steps)


def model_after(operations: Sequence[Operation], count: int) -> RestoredState:
    """The reference state after the first ``count`` operations."""
    model = MemoryStorage()
    for operation in operations[:count]:
        operation(model)
    return model.load()


def check_recovered(
    operations: Sequence[Operation], outcome: Outcome, restored: RestoredState, context: str
) -> None:
    """Assert that the recovered state is an allowed one (see the module docstring)."""
    counts = [outcome.acknowledged]
    if outcome.in_flight and outcome.acknowledged < len(operations):
        counts.append(outcome.acknowledged + 1)
    allowed = [model_after(operations, count) for count in counts]
    logs = [(state.snapshot, state.entries) for state in allowed]
    votes = [(state.hard_state.term, state.hard_state.vote) for state in allowed]
    snapshot_index = restored.snapshot.meta.index if restored.snapshot else 0
    last_index = restored.entries[-1].index if restored.entries else snapshot_index
    max_commit = max(state.hard_state.commit for state in allowed)

    assert (restored.snapshot, restored.entries) in logs, context
    assert (restored.hard_state.term, restored.hard_state.vote) in votes, context
    assert snapshot_index <= restored.hard_state.commit <= min(max_commit, last_index), context


def recover_and_extend(fs: SimFileSystem, context: str) -> RestoredState:
    """Crash, recover, save one more entry, crash again: the new entry must be there."""
    fs.crash()
    storage = WalStorage(fs, DIR, segment_bytes=SEGMENT_BYTES)
    restored = storage.load()
    term = max(restored.hard_state.term, 9)
    extra = Entry(term=term, index=storage.last_index + 1, data=b"after-recovery")
    storage.save(hard_state=HardState(term=term, vote=1), entries=[extra])
    fs.crash()
    again = WalStorage(fs, DIR, segment_bytes=SEGMENT_BYTES).load()

    assert extra == again.entries[-1], context
    return restored


class TestCrashAtEveryStep:
    def test_every_write_boundary(self) -> None:
        """For each step of the script (write, sync, rename...), crashing right after it is safe."""
        total = drive(SimFileSystem(), SCRIPT, None).steps
        for seed in range(5):
            for step in range(1, total + 1):
                fs = SimFileSystem(random.Random(seed * 1000 + step), torn_writes=True)
                outcome = drive(fs, SCRIPT, step)
                context = f"seed={seed} step={step}/{total} outcome={outcome}"
                restored = recover_and_extend(fs, context)

                check_recovered(SCRIPT, outcome, restored, context)

    def test_script_without_crash_matches_the_model(self) -> None:
        """Run to completion and cleanly reloaded, storage holds exactly the model's state."""
        fs = SimFileSystem()
        drive(fs, SCRIPT, None)
        restored = WalStorage(fs, DIR).load()
        expected = model_after(SCRIPT, len(SCRIPT))

        assert (expected.snapshot, expected.entries, expected.hard_state) == (
            restored.snapshot,
            restored.entries,
            restored.hard_state,
        )


def random_operations(rng: random.Random, count: int) -> list[Operation]:
    """A plausible sequence of Ready batches and snapshots, as a Raft node would produce."""
    model = MemoryStorage()
    operations: list[Operation] = []
    term, commit = 1, 0
    for _ in range(count):
        roll = rng.random()
        last = model.last_index
        if roll < 0.15 and commit > model.snapshot_index:
            index = rng.randint(model.snapshot_index + 1, commit)
            operation = snap(index, model.term_at(index) or term)
        elif roll < 0.2:
            term += 1
            save(HardState(term=term, commit=commit), [])(model)  # the term comes first
            operations.append(save(HardState(term=term, commit=commit), []))
            commit = last + rng.randint(1, 4)
            operation = snap(commit, term)
        else:
            if rng.random() < 0.2:
                term += 1
            first = rng.randint(max(commit, model.snapshot_index) + 1, last + 1)
            entries = batch(first, first + rng.randint(0, 6), term, size=rng.randint(0, 40))
            commit = rng.randint(commit, max(commit, entries[-1].index))
            operation = save(HardState(term=term, vote=rng.randint(0, 3), commit=commit), entries)
        operation(model)
        operations.append(operation)
    return operations


class TestRandomCrashes:
    @settings(max_examples=200, deadline=None)
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1))
    def test_random_operations_and_crash_point(self, seed: int) -> None:
        """Any generated operation sequence, crashed at any step, recovers an allowed state."""
        rng = random.Random(seed)
        operations = random_operations(rng, rng.randint(1, 25))
        fs = SimFileSystem(rng, torn_writes=True)
        outcome = drive(fs, operations, rng.randint(1, 150))
        context = f"seed={seed} outcome={outcome}"
        restored = recover_and_extend(fs, context)

        check_recovered(operations, outcome, restored, context)
