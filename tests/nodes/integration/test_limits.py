"""The size cases of issue 11 (item 3) against a running 3-node cluster: each is refused
(or served) without unseating the leader, and nothing oversized reaches the log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest

from experiments.cluster import LocalCluster, NodeReport, UpOptions
from experiments.cluster.testing import running_cluster
from nodes.client import AsyncClient
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc

MIB = 1024 * 1024


@pytest.fixture(scope="module", name="cluster")
def fixture_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One 3-node cluster for the size cases."""
    options = UpOptions(with_proxy=True, tick_ms=50)
    with running_cluster(tmp_path_factory.mktemp("limits"), options) as cluster:
        yield cluster


def leader_view(cluster: LocalCluster) -> tuple[int, int, int]:
    """(leader id, term, leader's last log index) once a majority agrees on a leader."""
    leader: NodeReport = cluster.wait_for_leader(30)
    assert leader.view is not None
    return leader.id, leader.view.term, leader.view.last_index


def put(address: str, request: pb.PutRequest) -> grpc.StatusCode:
    """One raw Put; its status code."""
    options = [("grpc.max_send_message_length", 64 * MIB)]
    with grpc.insecure_channel(address, options=options) as channel:
        try:
            pb_grpc.KvStub(channel).Put(request, timeout=10)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


class TestClientLimits:
    """Oversized client input is refused before it reaches the log."""

    def test_16_mb_put_is_refused_and_the_leader_stays(self, cluster: LocalCluster) -> None:
        """A 16 MB put is RESOURCE_EXHAUSTED (4 MiB client limit); same leader, same term."""
        leader, term, last = leader_view(cluster)
        address = cluster.state().node(leader).client_address

        code = put(address, pb.PutRequest(key="big", value="v" * (16 * 1000 * 1000)))

        assert grpc.StatusCode.RESOURCE_EXHAUSTED == code
        assert (leader, term, last) == leader_view(cluster)

    def test_3_mb_client_id_never_reaches_the_log(self, cluster: LocalCluster) -> None:
        """A put with a 3 MB client id is INVALID_ARGUMENT and appends nothing."""
        leader, term, last = leader_view(cluster)
        address = cluster.state().node(leader).client_address
        request = pb.PutRequest(key="k", value="v", client_id="c" * (3 * 1000 * 1000), seq=1)

        code = put(address, request)

        assert grpc.StatusCode.INVALID_ARGUMENT == code
        assert (leader, term, last) == leader_view(cluster)

    def test_48_concurrent_1_mib_puts_keep_the_leader(self, cluster: LocalCluster) -> None:
        """Three rounds of 48 puts of a 1 MiB value at once (the issue's three trials) are
        all acknowledged by the same leader in the same term."""
        leader, term, _ = leader_view(cluster)
        addresses = cluster.state().client_addresses
        value = "x" * MIB

        async def run(round_: int) -> list[str]:
            async with AsyncClient(addresses, timeout_s=60.0, attempt_timeout_s=30.0) as client:
                outcomes = await asyncio.gather(
                    *(client.put(f"mib-{round_}-{i}", value) for i in range(48))
                )
            return [o.status for o in outcomes]

        statuses = [status for round_ in range(3) for status in asyncio.run(run(round_))]
        after, after_term, _ = leader_view(cluster)

        assert ["ok"] * 3 * 48 == statuses
        assert (leader, term) == (after, after_term)
