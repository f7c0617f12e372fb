"""--forward-writes: a follower hands writes to the leader over the peer link (the link
proxy), so a partition cuts forwarding too, and the follower says honestly what happened."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from experiments.cluster import LocalCluster, UpOptions
from experiments.cluster.testing import running_cluster
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc
from proxy.control import ToxiproxyControl
from proxy.faults import CutMode, one_way
from proxy.injection import heal, start

S = pb.KvReply.Status


@pytest.fixture(scope="module", name="cluster")
def fixture_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Three forwarding nodes behind the embedded Toxiproxy."""
    options = UpOptions(with_proxy=True, forward_writes=True)
    with running_cluster(tmp_path_factory.mktemp("forwarding"), options) as cluster:
        yield cluster


def put(address: str, key: str, value: str, *, timeout_s: float = 3.0) -> pb.KvReply:
    """One Put through ``address`` (a client proxy), no retry, no redirect."""
    with grpc.insecure_channel(address) as channel:
        reply: pb.KvReply = pb_grpc.KvStub(channel).Put(
            pb.PutRequest(key=key, value=value), timeout=timeout_s
        )
    return reply


def roles(cluster: LocalCluster) -> tuple[int, int]:
    """(leader, a follower) once a majority agrees on the leader."""
    leader = cluster.wait_for_leader(30).id
    follower = next(n.id for n in cluster.state().nodes if n.id != leader)
    return leader, follower


class TestForwarding:
    """Writes through a follower."""

    def test_follower_answers_with_the_leaders_outcome(self, cluster: LocalCluster) -> None:
        """A put sent to a follower's client proxy is OK, and the leader served it."""
        for _attempt in range(3):
            before = cluster.wait_for_leader(30)
            leader = before.id
            follower = next(n.id for n in cluster.state().nodes if n.id != leader)
            reply = put(cluster.state().node(follower).client_address, "fwd-ok", "1")
            after = cluster.wait_for_leader(30)
            # A new election during the put (a loaded machine, a young cluster) may make
            # the follower the leader; only a put under one leader and term says anything.
            terms = (before.view and before.view.term, after.view and after.view.term)
            if before.id == after.id and terms[0] == terms[1]:
                break

        assert (S.OK, leader) == (reply.status, reply.node_id)

    @pytest.mark.parametrize(
        ("mode", "expected"),
        [(CutMode.DROP, S.UNKNOWN), (CutMode.REFUSE, S.UNAVAILABLE)],
        ids=["drop-is-unknown", "refuse-is-unavailable"],
    )
    def test_a_cut_link_cuts_forwarding(
        self, cluster: LocalCluster, mode: CutMode, expected: int
    ) -> None:
        """With only the follower→leader link proxy cut (clients still reach the leader),
        the forward fails: UNKNOWN when it may have been sent (drop), UNAVAILABLE when it
        certainly was not (refuse)."""
        leader, follower = roles(cluster)
        topology = cluster.topology()
        url = cluster.state().proxy_url
        assert topology is not None and url is not None
        control = ToxiproxyControl(url)
        fault = start(one_way(topology, follower, leader, mode=mode), control)
        try:
            cut = put(cluster.state().node(follower).client_address, f"fwd-{mode}", "x")
            direct = put(cluster.state().node(leader).client_address, f"direct-{mode}", "y")
        finally:
            heal(control, topology, faults=[fault])

        assert (expected, follower, S.OK) == (cut.status, cut.node_id, direct.status), cut.error
