"""The KV service of a running 3-node cluster: election, reads and writes, invalid input."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from experiments.cluster import LocalCluster
from experiments.cluster.testing import wait_for
from nodes.client import AsyncClient, Client
from nodes.kv import MAX_KEY_BYTES, MAX_VALUE_BYTES
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc


class TestElection:
    """A fresh cluster elects one leader that every node knows."""

    def test_every_node_follows_one_leader(self, shared_cluster: LocalCluster) -> None:
        """After ``up`` one node leads and, soon, all three follow it in the same term."""

        def agreed() -> list[tuple[str, int, int]] | None:
            views = [r.view for r in shared_cluster.status()]
            if any(v is None for v in views):
                return None
            seen = [(v.role, v.leader_id, v.term) for v in views if v is not None]
            return seen if len({(lead, term) for _, lead, term in seen}) == 1 else None

        seen = wait_for(agreed, what="all nodes to agree on a leader")

        assert 1 == sorted(role for role, _, _ in seen).count("leader")
        assert {"follower"} == {role for role, _, _ in seen} - {"leader"}


class TestReadWrite:
    """Writes through any node are readable from every node."""

    def test_put_through_each_node_then_get_from_each(self, shared_cluster: LocalCluster) -> None:
        """A put sent to a single node (redirected if it follows) is read back everywhere."""
        addresses = shared_cluster.state().client_addresses
        for i, address in enumerate(addresses):
            with Client([address], timeout_s=10.0, seed=i) as one:
                assert "ok" == one.put(f"rw-{i}", f"v{i}").status
        seen = {}
        for address in addresses:
            with Client([address], timeout_s=10.0, seed=1) as one:
                for i in range(len(addresses)):
                    seen[(address, i)] = one.get(f"rw-{i}").value

        expected = {(a, i): f"v{i}" for a in addresses for i in range(len(addresses))}
        assert expected == seen

    def test_cas_and_delete(self, client: Client) -> None:
        """cas succeeds on the expected value, reports a mismatch otherwise; delete removes."""
        client.put("cas-key", "a")
        swapped = client.cas("cas-key", "a", "b")
        refused = client.cas("cas-key", "a", "c")
        client.delete("cas-key")
        after = client.get("cas-key")

        assert ("ok", "fail", "mismatch", "b") == (
            swapped.status,
            refused.status,
            refused.error,
            refused.value,
        )
        assert ("ok", None) == (after.status, after.value)

    def test_stale_read_returns_a_local_value(self, client: Client) -> None:
        """A stale read answers from a replica once it applied the write."""
        put = client.put("stale-key", "x")
        values = {client.get("stale-key", "stale").value for _ in range(6)} - {None}

        assert ("ok", {"x"}) == (put.status, values)

    def test_many_concurrent_clients(self, shared_cluster: LocalCluster) -> None:
        """16 concurrent asyncio clients' writes are all acknowledged and readable."""
        addresses = shared_cluster.state().client_addresses

        async def one(t: int) -> tuple[list[str], list[str | None]]:
            async with AsyncClient(addresses, timeout_s=15.0, seed=t) as aio:
                writes: list[str] = [
                    (await aio.put(f"conc-{t}-{i}", f"{t}.{i}")).status for i in range(5)
                ]
                reads = [(await aio.get(f"conc-{t}-{i}")).value for i in range(5)]
            return writes, reads

        async def run() -> tuple[list[str], list[str | None]]:
            results = await asyncio.gather(*(one(t) for t in range(16)))
            return (
                [s for writes, _ in results for s in writes],
                [v for _, reads in results for v in reads],
            )

        statuses, values = asyncio.run(run())

        assert ["ok"] * 80 == statuses
        assert [f"{t}.{i}" for t in range(16) for i in range(5)] == values


def _call(address: str, method: str, request: object, **options: object) -> grpc.StatusCode:
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.KvStub(channel)
        try:
            getattr(stub, method)(request, timeout=5, **options)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


class TestInvalidRequests:
    """Invalid requests are refused with INVALID_ARGUMENT (or by gRPC's size limit)."""

    @pytest.mark.parametrize(
        ("method", "request_"),
        [
            ("Put", pb.PutRequest(key="", value="v")),
            ("Put", pb.PutRequest(key="k" * (MAX_KEY_BYTES + 1), value="v")),
            ("Put", pb.PutRequest(key="k", value="v" * (MAX_VALUE_BYTES + 1))),
            ("Get", pb.GetRequest(key="k", consistency="eventual")),
            ("Get", pb.GetRequest(key="")),
            ("Cas", pb.CasRequest(key="k", new="v", client_id="c", seq=0)),
        ],
        ids=["empty-key", "key-too-large", "value-too-large", "consistency", "get-empty", "seq"],
    )
    def test_invalid_argument(
        self, shared_cluster: LocalCluster, method: str, request_: object
    ) -> None:
        """Each broken request gets INVALID_ARGUMENT from any node."""
        address = shared_cluster.state().client_addresses[0]

        assert grpc.StatusCode.INVALID_ARGUMENT == _call(address, method, request_)

    @pytest.mark.parametrize(
        "method",
        ["/chaoslab.v1.Kv/Put", "/chaoslab.v1.Kv/Get", "/chaoslab.v1.Admin/TransferLeader"],
    )
    @pytest.mark.parametrize(
        "garbage", [b"\xff\xff\xff", b"\x0a\x05ab"], ids=["invalid-tag", "truncated"]
    )
    def test_garbage_protobuf_is_invalid_argument(
        self, shared_cluster: LocalCluster, method: str, garbage: bytes
    ) -> None:
        """Bytes that are not the request message are INVALID_ARGUMENT naming the method."""
        address = shared_cluster.state().client_addresses[0]
        with grpc.insecure_channel(address) as channel:
            call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)
            with pytest.raises(grpc.RpcError) as caught:
                call(garbage, timeout=5)

        assert (grpc.StatusCode.INVALID_ARGUMENT, True) == (
            caught.value.code(),
            method in (caught.value.details() or ""),
        )

    def test_client_listener_serves_no_peer_call(self, shared_cluster: LocalCluster) -> None:
        """The client listener does not know the Peer service (UNIMPLEMENTED)."""
        address = shared_cluster.state().client_addresses[0]
        with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as caught:
            pb_grpc.PeerStub(channel).Deliver(pb.MessageBatch(), timeout=5)

        assert grpc.StatusCode.UNIMPLEMENTED == caught.value.code()

    def test_oversized_message_is_refused(self, shared_cluster: LocalCluster) -> None:
        """A request beyond the server's message limit is refused before it is handled."""
        address = shared_cluster.state().client_addresses[0]
        huge = pb.PutRequest(key="k", value="v" * (17 * 1024 * 1024))

        assert grpc.StatusCode.RESOURCE_EXHAUSTED == _call(address, "Put", huge)
