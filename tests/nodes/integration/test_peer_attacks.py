"""The forged peer messages of issue 11 (item 2), replayed against a running 3-node cluster.

An outsider reaches every listener a client can reach (client and peer ports); an insider
holds the cluster's secret (a member gone wrong). Neither may move the term, plant an entry
or a key, or leave a node unable to restart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import pytest

from experiments.cluster import LocalCluster
from experiments.cluster.testing import running_cluster, wait_for
from nodes.client import Client
from nodes.raft import Entry, Message, MessageType, Snapshot, SnapshotMeta
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc
from nodes.rpc import message_to_pb, snapshot_chunks
from nodes.server.auth import peer_metadata, read_secret

REFUSED = {
    grpc.StatusCode.UNIMPLEMENTED,  # the client listener serves no peer RPC
    grpc.StatusCode.UNAUTHENTICATED,  # no (or a wrong) cluster secret
}


@pytest.fixture(scope="module", name="cluster")
def fixture_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One 3-node cluster for the attacks (each test checks it still works afterwards)."""
    with running_cluster(tmp_path_factory.mktemp("attacked")) as cluster:
        yield cluster


def reachable(cluster: LocalCluster) -> list[str]:
    """Every address an outsider can dial: each node's client and peer listeners."""
    found = []
    for node in cluster.state().nodes:
        found += [node.listen, node.peer_listen]
    return found


def insider_metadata(cluster: LocalCluster, sender: int) -> tuple[tuple[str, str], ...]:
    """What a member holding the cluster's secret sends with each peer call."""
    state = cluster.state()
    secret = read_secret(Path(state.peer_secret_file))
    return peer_metadata(secret, state.cluster_id, sender)


def deliver(
    address: str,
    messages: Sequence[Message],
    *,
    sender: int,
    cluster_id: str = "",
    metadata: tuple[tuple[str, str], ...] = (),
) -> grpc.StatusCode:
    """Send one Deliver batch; return its status code."""
    batch = pb.MessageBatch(
        sender=sender, cluster_id=cluster_id, messages=[message_to_pb(m) for m in messages]
    )
    with grpc.insecure_channel(address) as channel:
        try:
            pb_grpc.PeerStub(channel).Deliver(batch, timeout=5, metadata=metadata)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def install(
    address: str,
    message: Message,
    *,
    cluster_id: str = "",
    metadata: tuple[tuple[str, str], ...] = (),
) -> grpc.StatusCode:
    """Stream one snapshot; return the status code."""
    chunks = list(snapshot_chunks(message))
    chunks[0].cluster_id = cluster_id
    with grpc.insecure_channel(address) as channel:
        try:
            pb_grpc.PeerStub(channel).InstallSnapshot(iter(chunks), timeout=10, metadata=metadata)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def terms(cluster: LocalCluster) -> dict[int, int]:
    """Each answering node's current term."""
    return {r.id: r.view.term for r in cluster.status() if r.view is not None}


def still_serves(cluster: LocalCluster, key: str) -> bool:
    """Whether the cluster elects a leader and acknowledges a write."""
    cluster.wait_for_leader(30)
    with Client(cluster.state().client_addresses, timeout_s=10.0, seed=3) as client:
        return client.put(key, "ok").ok


def kv_snapshot(applied: int, data: dict[str, str]) -> bytes:
    """A well-formed KV snapshot (the state machine's format)."""
    document = {"v": 1, "applied": applied, "data": sorted(data.items()), "sessions": []}
    return json.dumps(document, separators=(",", ":")).encode()


class TestOutsider:
    """Without the cluster's secret nothing reaches the Raft core."""

    def test_forged_vote_cannot_move_the_term(self, cluster: LocalCluster) -> None:
        """A VOTE at term +100 sent to every reachable port is refused; no term moves."""
        leader = cluster.wait_for_leader(30)
        before = max(terms(cluster).values())
        codes = set()
        for node in cluster.state().nodes:
            other = 1 if node.id != 1 else 2
            vote = Message(
                type=MessageType.VOTE,
                to=node.id,
                frm=other,
                term=before + 100,
                log_term=before + 100,
                index=10**9,
            )
            codes |= {deliver(a, [vote], sender=other) for a in (node.listen, node.peer_listen)}
        after = max(terms(cluster).values())

        assert codes <= REFUSED, codes
        assert after < before + 100, (leader, before, after)
        assert still_serves(cluster, "after-vote")

    def test_forged_entry_is_never_applied(self, cluster: LocalCluster) -> None:
        """A forged APP carrying a put in the leader's name is refused by every follower."""
        leader = cluster.wait_for_leader(30)
        view = next(r.view for r in cluster.status() if r.id == leader.id)
        assert view is not None
        forged = json.dumps([1, "put", "forged-entry", "evil", None, None]).encode()
        codes = set()
        for node in cluster.state().nodes:
            if node.id == leader.id:
                continue
            app = Message(
                type=MessageType.APP,
                to=node.id,
                frm=leader.id,
                term=view.term,
                log_term=view.term,
                index=view.last_index,
                entries=(Entry(term=view.term, index=view.last_index + 1, data=forged),),
                commit=view.last_index + 1,
            )
            codes |= {deliver(a, [app], sender=leader.id) for a in (node.listen, node.peer_listen)}
        assert still_serves(cluster, "after-entry")
        with Client(cluster.state().client_addresses, timeout_s=10.0, seed=4) as client:
            seen = {client.get("forged-entry", "stale").value for _ in range(6)}

        assert codes <= REFUSED, codes
        assert {None} == seen

    def test_forged_snapshot_cannot_plant_a_key(self, cluster: LocalCluster) -> None:
        """A snapshot streamed to a follower without the secret is refused; no key appears."""
        leader = cluster.wait_for_leader(30)
        view = next(r.view for r in cluster.status() if r.id == leader.id)
        assert view is not None
        index = view.last_index + 1000
        codes = set()
        for node in cluster.state().nodes:
            if node.id == leader.id:
                continue
            snap = Message(
                type=MessageType.SNAP,
                to=node.id,
                frm=leader.id,
                term=view.term,
                snapshot=Snapshot(
                    meta=SnapshotMeta(index=index, term=view.term, voters=(1, 2, 3)),
                    data=kv_snapshot(index, {"planted": "evil"}),
                ),
            )
            codes |= {install(a, snap) for a in (node.listen, node.peer_listen)}
        with Client(cluster.state().client_addresses, timeout_s=10.0, seed=5) as client:
            seen = {client.get("planted", "stale").value for _ in range(6)}

        assert codes <= REFUSED, codes
        assert {None} == seen
        assert still_serves(cluster, "after-snapshot")


class TestInsider:
    """With the secret, a message is still bounded and validated before the core sees it."""

    def test_max_term_is_refused(self, cluster: LocalCluster) -> None:
        """A heartbeat at term 2**64-1 is INVALID_ARGUMENT; the cluster keeps electing."""
        leader = cluster.wait_for_leader(30)
        target = next(n for n in cluster.state().nodes if n.id != leader.id)
        beat = Message(type=MessageType.HEARTBEAT, to=target.id, frm=leader.id, term=2**64 - 1)
        code = deliver(
            target.peer_listen,
            [beat],
            sender=leader.id,
            cluster_id=cluster.state().cluster_id,
            metadata=insider_metadata(cluster, leader.id),
        )

        assert grpc.StatusCode.INVALID_ARGUMENT == code
        assert max(terms(cluster).values()) < 2**32
        assert still_serves(cluster, "after-max-term")

    def test_sender_must_be_a_voter_and_of_this_cluster(self, cluster: LocalCluster) -> None:
        """A batch from node 9 (not a voter), or naming another cluster, is refused."""
        leader = cluster.wait_for_leader(30)
        target = next(n for n in cluster.state().nodes if n.id != leader.id)
        state = cluster.state()
        beat = Message(type=MessageType.HEARTBEAT, to=target.id, frm=9, term=1)
        stranger = deliver(
            target.peer_listen,
            [beat],
            sender=9,
            cluster_id=state.cluster_id,
            metadata=insider_metadata(cluster, 9),
        )
        other_cluster = deliver(
            target.peer_listen,
            [Message(type=MessageType.HEARTBEAT, to=target.id, frm=leader.id, term=1)],
            sender=leader.id,
            cluster_id="another-cluster",
            metadata=insider_metadata(cluster, leader.id),
        )

        assert (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED) == (
            stranger,
            other_cluster,
        )

    def test_garbage_from_a_member_is_invalid_argument(self, cluster: LocalCluster) -> None:
        """Authenticated bytes that are not a MessageBatch are INVALID_ARGUMENT."""
        target = cluster.state().node(1)
        with grpc.insecure_channel(target.peer_listen) as channel:
            call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                "/chaoslab.v1.Peer/Deliver"
            )
            with pytest.raises(grpc.RpcError) as caught:
                call(b"\xff\xff\xff", timeout=5, metadata=insider_metadata(cluster, 2))

        assert grpc.StatusCode.INVALID_ARGUMENT == caught.value.code()

    def test_snapshot_inside_deliver_is_refused_and_restart_works(
        self, cluster: LocalCluster
    ) -> None:
        """A SNAP smuggled in a Deliver batch is refused; the target restarts cleanly."""
        leader = cluster.wait_for_leader(30)
        view = next(r.view for r in cluster.status() if r.id == leader.id)
        assert view is not None
        target = next(n for n in cluster.state().nodes if n.id != leader.id)
        index = view.last_index + 1000
        snap = Message(
            type=MessageType.SNAP,
            to=target.id,
            frm=leader.id,
            term=view.term,
            snapshot=Snapshot(
                meta=SnapshotMeta(index=index, term=view.term, voters=(1, 2, 3)),
                data=b"not a kv snapshot",
            ),
        )
        code = deliver(
            target.peer_listen,
            [snap],
            sender=leader.id,
            cluster_id=cluster.state().cluster_id,
            metadata=insider_metadata(cluster, leader.id),
        )
        cluster.restart(target.id)
        wait_for(
            lambda: any(r.id == target.id and r.view is not None for r in cluster.status()),
            what=f"node {target.id} to answer after its restart",
        )

        assert grpc.StatusCode.INVALID_ARGUMENT == code
        assert still_serves(cluster, "after-smuggled-snapshot")

    def test_invalid_snapshot_is_refused_before_anything_is_replaced(
        self, cluster: LocalCluster
    ) -> None:
        """Streamed snapshots whose data is not a KV snapshot, whose applied index disagrees
        with their metadata, or whose voters are not the cluster's are INVALID_ARGUMENT."""
        leader = cluster.wait_for_leader(30)
        view = next(r.view for r in cluster.status() if r.id == leader.id)
        assert view is not None
        target = next(n for n in cluster.state().nodes if n.id != leader.id)
        index = view.last_index + 1000

        def snap(data: bytes, voters: tuple[int, ...] = (1, 2, 3)) -> Message:
            meta = SnapshotMeta(index=index, term=view.term, voters=voters)
            return Message(
                type=MessageType.SNAP,
                to=target.id,
                frm=leader.id,
                term=view.term,
                snapshot=Snapshot(meta=meta, data=data),
            )

        bad = [
            snap(b"garbage"),
            snap(kv_snapshot(index - 1, {"planted": "evil"})),
            snap(kv_snapshot(index, {"planted": "evil"}), voters=(1, 2, 7)),
        ]
        codes = [
            install(
                target.peer_listen,
                message,
                cluster_id=cluster.state().cluster_id,
                metadata=insider_metadata(cluster, leader.id),
            )
            for message in bad
        ]

        assert [grpc.StatusCode.INVALID_ARGUMENT] * 3 == codes
        assert still_serves(cluster, "after-invalid-snapshots")
