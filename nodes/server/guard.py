"""Bound and check what an authenticated peer sends before the Raft core sees any of it.

Rules: pure checks, no IO (the caller reads the bytes). A refusal raises ``PeerRefused``
naming what was wrong; the whole call is refused and nothing of it is stepped. Checked:
the call names this node's cluster; the sender is a configured voter other than this
node, and every message is from the sender to this node; terms and indexes are in range
(``nodes.rpc.codec``); a Deliver batch carries no snapshot (snapshots only come streamed,
through ``InstallSnapshot``, where they are validated whole); appended entries are
contiguous after the message's index, their terms never fall and never pass the
message's term, and each fits the command limit; a snapshot is a KV snapshot whose
applied index is its own index and whose voters are exactly the configured voters; an
``ap`` Sync holds at most ``MAX_SYNC_VERSIONS`` versions, each a valid key and value
with a timestamp in range issued by a voter.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from nodes.ap import Timestamp, TimestampError, Version
from nodes.errors import NodeError
from nodes.kv import InvalidCommand, InvalidSnapshot, KvStateMachine, Put
from nodes.raft import EntryType, Message, MessageType
from nodes.rpc import CodecError, message_from_pb
from nodes.rpc import chaoslab_pb2 as pb
from nodes.server.limits import MAX_COMMAND_BYTES, MAX_SYNC_VERSIONS


class Refusal(enum.Enum):
    """Why a peer call was refused (maps to a gRPC status in ``services``)."""

    INVALID = "invalid"
    """The content breaks a rule (INVALID_ARGUMENT)."""
    OTHER_CLUSTER = "other_cluster"
    """The call belongs to another cluster (PERMISSION_DENIED)."""


class PeerRefused(NodeError):
    """A peer call that must not reach the core (the sending peer's fault).

    Args:
        reason: the kind of refusal.
        message: what was wrong, for the sender's error and our log.
    """

    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _invalid(message: str) -> PeerRefused:
    return PeerRefused(Refusal.INVALID, message)


class PeerGuard:
    """The checks for one node.

    Args:
        node_id: this node's id.
        voters: every voter of the cluster, this node included.
        cluster_id: this node's cluster.
    """

    def __init__(self, node_id: int, voters: Iterable[int], cluster_id: str) -> None:
        self.node_id = node_id
        self.voters = frozenset(voters)
        self.cluster_id = cluster_id

    def check_call(self, cluster_id: str, sender: int) -> None:
        """The call's cluster and sender.

        Raises:
            PeerRefused: another cluster, or a sender that is not one of our peers.
        """
        if cluster_id != self.cluster_id:
            msg = f"this node is in cluster {self.cluster_id!r}, the call in {cluster_id[:64]!r}"
            raise PeerRefused(Refusal.OTHER_CLUSTER, msg)
        if sender == self.node_id or sender not in self.voters:
            voters = sorted(self.voters)
            msg = f"sender {sender} is not a peer of node {self.node_id} (voters {voters})"
            raise _invalid(msg)

    def sync(self, request: pb.SyncRequest) -> list[Version]:
        """Decode and check an ``ap`` anti-entropy call.

        Raises:
            PeerRefused: the call or one of its versions breaks a rule.
        """
        self.check_call(request.cluster_id, request.sender)
        if len(request.versions) > MAX_SYNC_VERSIONS:
            msg = f"{len(request.versions)} versions in one Sync; the limit is {MAX_SYNC_VERSIONS}"
            raise _invalid(msg)
        versions = []
        for number, encoded in enumerate(request.versions):
            value = encoded.value if encoded.HasField("value") else None
            try:
                Put(key=encoded.key, value=value or "")
                stamp = Timestamp(encoded.physical_ms, encoded.logical, encoded.node)
            except (InvalidCommand, TimestampError) as exc:
                raise _invalid(f"version {number}: {exc}") from None
            if stamp.node not in self.voters:
                msg = f"version {number} was stamped by node {stamp.node}, not a voter"
                raise _invalid(msg)
            versions.append(Version(key=encoded.key, value=value, stamp=stamp))
        return versions

    def batch(self, batch: pb.MessageBatch) -> list[Message]:
        """Decode and check a Deliver batch.

        Raises:
            PeerRefused: the batch or one of its messages breaks a rule.
        """
        self.check_call(batch.cluster_id, batch.sender)
        messages = [self.message(encoded, batch.sender) for encoded in batch.messages]
        for message in messages:
            if message.type is MessageType.SNAP:
                msg = "a snapshot must come through InstallSnapshot, not inside a Deliver batch"
                raise _invalid(msg)
        return messages

    def message(
        self, encoded: pb.MessagePb, sender: int, snapshot_data: bytes | None = None
    ) -> Message:
        """Decode and check one message from ``sender``.

        Raises:
            PeerRefused: it breaks a rule.
        """
        try:
            message = message_from_pb(encoded, snapshot_data=snapshot_data)
        except CodecError as exc:
            raise _invalid(str(exc)) from None
        if message.frm != sender:
            msg = f"a message from node {message.frm} inside a call from node {sender}"
            raise _invalid(msg)
        if message.to != self.node_id:
            msg = (
                f"a message for node {message.to} reached node {self.node_id} "
                "(a peer address points at the wrong node?)"
            )
            raise _invalid(msg)
        if message.target and message.target not in self.voters:
            msg = f"target {message.target} is not a voter"
            raise _invalid(msg)
        self._entries(message)
        return message

    def _entries(self, message: Message) -> None:
        if not message.entries:
            return
        if message.type is not MessageType.APP:
            msg = f"a {message.type.value} message carries entries"
            raise _invalid(msg)
        previous_term = message.log_term
        for offset, entry in enumerate(message.entries):
            if entry.index != message.index + 1 + offset:
                msg = (
                    f"entry {offset} has index {entry.index}, expected {message.index + 1 + offset}"
                    " (entries follow the message's index without gaps)"
                )
                raise _invalid(msg)
            if not previous_term <= entry.term <= message.term:
                msg = (
                    f"entry {entry.index} has term {entry.term}, outside "
                    f"{previous_term}..{message.term} (the previous entry's and the message's)"
                )
                raise _invalid(msg)
            if len(entry.data) > MAX_COMMAND_BYTES:
                msg = (
                    f"entry {entry.index} carries {len(entry.data)} bytes; "
                    f"the limit is {MAX_COMMAND_BYTES}"
                )
                raise _invalid(msg)
            if entry.type is EntryType.NOOP and entry.data:
                msg = f"entry {entry.index} is a no-op carrying data"
                raise _invalid(msg)
            previous_term = entry.term

    def snapshot(self, message: Message) -> None:
        """Check a received snapshot whole, before it replaces anything.

        Raises:
            PeerRefused: not a SNAP, voters that are not the cluster's, or data that is not
                a KV snapshot of exactly its index.
        """
        snapshot = message.snapshot
        if message.type is not MessageType.SNAP or snapshot is None:
            msg = f"InstallSnapshot carries a {message.type.value} message, not a snapshot"
            raise _invalid(msg)
        meta = snapshot.meta
        if frozenset(meta.voters) != self.voters or len(meta.voters) != len(self.voters):
            msg = (
                f"snapshot voters {list(meta.voters)} are not this cluster's {sorted(self.voters)}"
            )
            raise _invalid(msg)
        if not 0 < meta.term <= message.term:
            msg = f"snapshot term {meta.term} is outside 1..{message.term} (the message's term)"
            raise _invalid(msg)
        if snapshot.data.lstrip()[:1] != b"{":  # refuse garbage before decoding it all
            msg = f"snapshot at index {meta.index} is not a KV snapshot (no JSON object)"
            raise _invalid(msg)
        scratch = KvStateMachine()
        try:
            scratch.restore(snapshot.data)
        except InvalidSnapshot as exc:
            msg = f"snapshot at index {meta.index} is not a KV snapshot: {exc}"
            raise _invalid(msg) from None
        if scratch.applied_index != meta.index:
            msg = (
                f"snapshot at index {meta.index} holds a state applied up to "
                f"{scratch.applied_index}"
            )
            raise _invalid(msg)
