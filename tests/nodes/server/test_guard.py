"""The peer guard: what an authenticated peer may send before the core sees any of it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.kv import KvStateMachine
from nodes.raft import Entry, EntryType, Message, MessageType, Snapshot, SnapshotMeta
from nodes.rpc import MAX_INDEX, MAX_TERM, message_to_pb
from nodes.rpc import chaoslab_pb2 as pb
from nodes.server.guard import PeerGuard, PeerRefused, Refusal
from nodes.server.limits import MAX_COMMAND_BYTES

GUARD = PeerGuard(2, (1, 2, 3), "lab")


def batch(*messages: Message, sender: int = 1, cluster: str = "lab") -> pb.MessageBatch:
    """A Deliver batch from ``sender``."""
    return pb.MessageBatch(
        sender=sender, cluster_id=cluster, messages=[message_to_pb(m) for m in messages]
    )


def app(*entries: Entry, index: int = 4, log_term: int = 1, term: int = 3) -> Message:
    """An append from node 1 to node 2 after ``index``."""
    return Message(
        type=MessageType.APP,
        to=2,
        frm=1,
        term=term,
        log_term=log_term,
        index=index,
        entries=entries,
        commit=index,
    )


def refusal(value: pb.MessageBatch) -> tuple[Refusal, str]:
    """The guard's refusal of a batch."""
    with pytest.raises(PeerRefused) as caught:
        GUARD.batch(value)
    return caught.value.reason, str(caught.value)


class TestBatch:
    """Deliver batches."""

    def test_accepts_a_well_formed_append(self) -> None:
        """Contiguous entries with non-decreasing terms up to the message's pass whole."""
        message = app(Entry(term=2, index=5, data=b"x"), Entry(term=3, index=6))

        assert [message] == GUARD.batch(batch(message))

    @pytest.mark.parametrize(
        ("value", "reason", "fragment"),
        [
            (batch(app(), cluster="other"), Refusal.OTHER_CLUSTER, "cluster 'lab'"),
            (batch(app(), sender=9), Refusal.INVALID, "sender 9 is not a peer"),
            (batch(app(), sender=2), Refusal.INVALID, "sender 2 is not a peer"),
            (batch(app(), sender=3), Refusal.INVALID, "from node 1 inside a call from node 3"),
            (
                batch(Message(type=MessageType.HEARTBEAT, to=3, frm=1, term=1)),
                Refusal.INVALID,
                "for node 3 reached node 2",
            ),
            (
                batch(app(Entry(term=3, index=6))),
                Refusal.INVALID,
                "has index 6, expected 5",
            ),
            (
                batch(app(Entry(term=3, index=5), Entry(term=2, index=6))),
                Refusal.INVALID,
                "term 2, outside 3..3",
            ),
            (batch(app(Entry(term=4, index=5))), Refusal.INVALID, "outside 1..3"),
            (
                batch(app(Entry(term=2, index=5, type=EntryType.NOOP, data=b"x"))),
                Refusal.INVALID,
                "no-op carrying data",
            ),
            (
                batch(app(Entry(term=2, index=5, data=b"x" * (MAX_COMMAND_BYTES + 1)))),
                Refusal.INVALID,
                "the limit is",
            ),
            (
                batch(
                    Message(
                        type=MessageType.HEARTBEAT,
                        to=2,
                        frm=1,
                        term=1,
                        entries=(Entry(term=1, index=1),),
                    )
                ),
                Refusal.INVALID,
                "heartbeat message carries entries",
            ),
            (
                batch(
                    Message(
                        type=MessageType.SNAP,
                        to=2,
                        frm=1,
                        term=1,
                        snapshot=Snapshot(meta=SnapshotMeta(index=1, term=1, voters=(1, 2, 3))),
                    )
                ),
                Refusal.INVALID,
                "must come through InstallSnapshot",
            ),
            (
                batch(Message(type=MessageType.TRANSFER_LEADER, to=2, frm=1, term=1, target=7)),
                Refusal.INVALID,
                "target 7 is not a voter",
            ),
        ],
        ids=[
            "cluster",
            "stranger",
            "itself",
            "impersonation",
            "misrouted",
            "gap",
            "falling-term",
            "future-term",
            "noop-data",
            "oversized-entry",
            "entries-outside-app",
            "snapshot-in-deliver",
            "transfer-target",
        ],
    )
    def test_refusals_name_the_problem(
        self, value: pb.MessageBatch, reason: Refusal, fragment: str
    ) -> None:
        """Each broken batch is refused whole, with the kind and a message naming it."""
        got_reason, message = refusal(value)

        assert (reason, True) == (got_reason, fragment in message), message

    @settings(max_examples=60, deadline=None)
    @given(
        field=st.sampled_from(["term", "log_term", "index", "commit", "reject_hint"]),
        value=st.integers(min_value=MAX_TERM + 1, max_value=2**64 - 1),
    )
    def test_numbers_beyond_the_limits_are_refused(self, field: str, value: int) -> None:
        """Any term or index above 2**63-1 (up to protobuf's 2**64-1) is refused."""
        encoded = message_to_pb(Message(type=MessageType.HEARTBEAT, to=2, frm=1, term=1))
        setattr(encoded, field, value)
        wire = pb.MessageBatch(sender=1, cluster_id="lab", messages=[encoded])

        reason, message = refusal(wire)

        assert (Refusal.INVALID, True) == (reason, "above the limit" in message)

    def test_entry_numbers_beyond_the_limits_are_refused(self) -> None:
        """An entry index of 2**64-1 is refused (MAX_INDEX is 2**63-1)."""
        encoded = message_to_pb(app(Entry(term=2, index=5)))
        encoded.entries[0].index = 2**64 - 1

        reason, message = refusal(pb.MessageBatch(sender=1, cluster_id="lab", messages=[encoded]))

        assert (Refusal.INVALID, True, 2**63 - 1) == (reason, "entry index" in message, MAX_INDEX)


def kv_snapshot(applied: int, pairs: dict[str, str]) -> bytes:
    """A KV snapshot in the state machine's own format."""
    machine = KvStateMachine()
    machine.restore(
        json.dumps(
            {"v": 1, "applied": applied, "data": sorted(pairs.items()), "sessions": []}
        ).encode()
    )
    return machine.snapshot()


def snap(data: bytes, *, index: int = 9, voters: tuple[int, ...] = (1, 2, 3)) -> Message:
    """A SNAP from node 1 to node 2 at ``index``, term 2, message term 3."""
    meta = SnapshotMeta(index=index, term=2, voters=voters)
    return Message(
        type=MessageType.SNAP, to=2, frm=1, term=3, snapshot=Snapshot(meta=meta, data=data)
    )


class TestSnapshot:
    """A streamed snapshot is checked whole before it replaces anything."""

    def test_accepts_a_kv_snapshot_of_its_own_index(self) -> None:
        """A KV snapshot applied to its index with the cluster's voters passes."""
        GUARD.snapshot(snap(kv_snapshot(9, {"k": "v"})))

    @pytest.mark.parametrize(
        ("message", "fragment"),
        [
            (snap(b"not json"), "is not a KV snapshot"),
            (snap(kv_snapshot(8, {})), "holds a state applied up to 8"),
            (snap(kv_snapshot(9, {}), voters=(1, 2)), "are not this cluster's"),
            (snap(kv_snapshot(9, {}), voters=(1, 2, 3, 3)), "are not this cluster's"),
            (Message(type=MessageType.APP, to=2, frm=1, term=1), "not a snapshot"),
        ],
        ids=["garbage", "index-mismatch", "voters", "duplicate-voter", "not-snap"],
    )
    def test_refusals(self, message: Message, fragment: str) -> None:
        """Each broken snapshot is INVALID, naming the problem."""
        with pytest.raises(PeerRefused) as caught:
            GUARD.snapshot(message)

        assert (Refusal.INVALID, True) == (caught.value.reason, fragment in str(caught.value))
