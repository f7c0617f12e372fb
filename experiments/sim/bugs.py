"""Seeded bugs: deliberately broken node variants, so the lab can show that its
checkers catch what they should. ``chaoslab sim --bug NAME``.

Rules: nothing here is reachable from a production code path. Each bug is
either an explicit ``unsafe_*`` switch of the production code (labelled unsafe
where it is defined) or a test-only subclass defined in this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from experiments.schedule import NemesisKind
from experiments.sim.cluster import NodeVariant
from nodes.raft import NO_NODE, Entry, HardState
from nodes.replica import ReplicaOptions
from nodes.storage import SimFileSystem, Storage, SyncPolicy, WalStorage


class VoteForgettingStorage(WalStorage):
    """UNSAFE, test-only: persists term and commit but never the vote.

    After a crash the node has forgotten whom it voted for in the current term,
    so it can vote twice in one term and two leaders can be elected.
    """

    def save(self, *, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        """Save as usual, with the vote dropped from the hard state."""
        if hard_state is not None:
            hard_state = replace(hard_state, vote=NO_NODE)
        super().save(hard_state=hard_state, entries=entries)


def _vote_forgetting(fs: SimFileSystem, directory: PurePosixPath, sync: SyncPolicy) -> Storage:
    return VoteForgettingStorage(fs, directory, sync=sync)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeededBug:
    """A broken variant and the faults that expose it."""

    name: str
    description: str
    variant: NodeVariant
    nemeses: tuple[NemesisKind, ...]
    """The nemeses a sweep for this bug uses unless told otherwise."""
    compose: float = 0.0
    """How often its fault windows pair two faults (see ``schedule.generate``)."""


BUGS: dict[str, SeededBug] = {
    bug.name: bug
    for bug in (
        SeededBug(
            name="votes-not-persisted",
            description="the vote is never written to disk: after a crash a node may vote twice "
            "in one term",
            variant=NodeVariant(storage_factory=_vote_forgetting),
            # A forgotten vote matters only if a second candidate of the same term
            # asks after the restart: latency spreads vote requests out in time.
            nemeses=(
                NemesisKind.RESTARTS,
                NemesisKind.PARTITION_LEADER_ROLLING,
                NemesisKind.LATENCY,
            ),
            compose=1.0,
        ),
        SeededBug(
            name="commit-prior-term",
            description="a leader commits entries of earlier terms by counting replicas "
            "(the Figure 8 mistake)",
            # The empty entry a new leader appends travels with older entries and
            # commits them by the rule; a naive leader, like the paper's basic one,
            # appends none (safe alone: see Config.unsafe_skip_leader_noop).
            variant=NodeVariant(
                config_overrides={
                    "unsafe_commit_prior_term_by_count": True,
                    "unsafe_skip_leader_noop": True,
                }
            ),
            # Figure 8 needs entries of several terms stranded on different nodes and
            # a deposed leader that comes back: rolling leader isolation makes both.
            nemeses=(NemesisKind.PARTITION_LEADER_ROLLING, NemesisKind.RESTARTS),
            compose=0.5,
        ),
        SeededBug(
            name="leader-reads-without-readindex",
            description="a leader serves reads from its own state without confirming it still "
            "leads (and, like most naive implementations, never steps down by CheckQuorum)",
            variant=NodeVariant(
                config_overrides={"unsafe_leader_read_without_quorum": True, "check_quorum": False}
            ),
            nemeses=(NemesisKind.PARTITION_LEADER, NemesisKind.PARTITION_MAJORITY),
        ),
        SeededBug(
            name="unsynced-storage",
            description="storage never fsyncs (sync policy 'never'): a crash loses acknowledged "
            "writes and votes",
            variant=NodeVariant(sync=SyncPolicy.UNSAFE_NEVER),
            nemeses=(NemesisKind.KILL, NemesisKind.RESTARTS),
        ),
        SeededBug(
            name="no-session-dedupe",
            description="the state machine ignores client sessions: a retried write applies "
            "twice",
            variant=NodeVariant(options=ReplicaOptions(unsafe_disable_session_dedupe=True)),
            nemeses=(NemesisKind.PARTITION_LEADER, NemesisKind.KILL, NemesisKind.LOSS),
        ),
    )
}
"""Every seeded bug, by name."""
