"""Probe: the size cases of issue 11 (item 3) on a fresh local cluster, with figures.

Run from the repository root (about a minute; needs ~2 GB of free memory and disk):

    python3 tests/nodes/integration/probe_limits.py [--nodes 3] [--proxy]

It prints one JSON object: the status of a 16 MB put and of a put with a 3 MB client id,
whether the leader (id and term) survived each, the outcome counts of three rounds of 48
concurrent 1 MiB puts, and the peak resident memory (VmHWM) of a follower before and
after four concurrent 252 MiB snapshot streams sent to it by a member (with the
cluster's secret), and its resident memory two seconds later. Not collected by pytest
(its name does not start with ``test_``); the assertions live in ``test_limits.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

from experiments.cluster import LocalCluster, UpOptions
from experiments.cluster.testing import running_cluster
from nodes.client import AsyncClient
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc
from nodes.server.auth import peer_metadata, read_secret

MIB = 1024 * 1024
SNAPSHOT_BYTES = 252 * MIB
STREAMS = 4


def _leader(cluster: LocalCluster) -> tuple[int, int]:
    report = cluster.wait_for_leader(30)
    assert report.view is not None
    return report.id, report.view.term


def _put(address: str, request: pb.PutRequest) -> str:
    options = [("grpc.max_send_message_length", 64 * MIB)]
    with grpc.insecure_channel(address, options=options) as channel:
        try:
            reply = pb_grpc.KvStub(channel).Put(request, timeout=20)
        except grpc.RpcError as exc:
            return str(exc.code().name)
    return str(pb.KvReply.Status.Name(reply.status))


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


async def _bursts(addresses: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    value = "x" * MIB
    for round_ in range(3):
        async with AsyncClient(addresses, timeout_s=60.0, attempt_timeout_s=30.0) as client:
            outcomes = await asyncio.gather(
                *(client.put(f"mib-{round_}-{i}", value) for i in range(48))
            )
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


async def _snapshots(address: str, metadata: Any, cluster_id: str, to: int, frm: int) -> list[str]:
    # A well-formed KV snapshot (one huge value) applied up to the index before its own: it is
    # streamed, read back and decoded whole (the costly path), then refused by the guard.
    head = b'{"v":1,"applied":999999,"data":[["k","'
    tail = b'"]],"sessions":[]}'
    piece = 256 * 1024

    def stream() -> Any:
        header = pb.MessagePb(
            type="snap",
            to=to,
            frm=frm,
            term=1,
            snapshot=pb.SnapshotPb(index=10**6, term=1, voters=[1, 2, 3]),
        )
        yield pb.SnapshotChunk(header=header, cluster_id=cluster_id, data=head)
        filler = SNAPSHOT_BYTES - len(head) - len(tail)
        for start in range(0, filler, piece):
            yield pb.SnapshotChunk(data=b"x" * min(piece, filler - start))
        yield pb.SnapshotChunk(data=tail)

    async def one() -> str:
        async with grpc.aio.insecure_channel(address) as channel:
            try:
                await pb_grpc.PeerStub(channel).InstallSnapshot(
                    stream(), timeout=120, metadata=metadata
                )
            except grpc.aio.AioRpcError as exc:
                return str(exc.code().name)
        return "OK"

    return list(await asyncio.gather(*(one() for _ in range(STREAMS))))


def probe(nodes: int, proxied: bool) -> dict[str, Any]:
    """Run every case on a fresh cluster; the figures."""
    with tempfile.TemporaryDirectory(prefix="chaoslab-probe-") as tmp:
        options = UpOptions(nodes=nodes, with_proxy=proxied)
        with running_cluster(Path(tmp) / "c", options) as cluster:
            state = cluster.state()
            figures: dict[str, Any] = {"nodes": nodes, "proxied": proxied}
            leader, term = _leader(cluster)
            address = state.node(leader).client_address
            figures["put_16MB"] = _put(address, pb.PutRequest(key="big", value="v" * 16_000_000))
            figures["put_16MB_leader_kept"] = (leader, term) == _leader(cluster)
            big_id = pb.PutRequest(key="k", value="v", client_id="c" * 3_000_000, seq=1)
            figures["client_id_3MB"] = _put(address, big_id)
            figures["client_id_3MB_leader_kept"] = (leader, term) == _leader(cluster)
            started = time.monotonic()
            figures["puts_48x1MiB_x3"] = asyncio.run(_bursts(state.client_addresses))
            figures["puts_48x1MiB_x3_s"] = round(time.monotonic() - started, 1)
            figures["puts_leader_kept"] = (leader, term) == _leader(cluster)
            follower = next(n for n in state.nodes if n.id != leader)
            assert follower.pid is not None
            metadata = peer_metadata(
                read_secret(Path(state.peer_secret_file)), state.cluster_id, leader
            )
            before = _status_kib(follower.pid, "VmHWM")
            codes = asyncio.run(
                _snapshots(follower.peer_listen, metadata, state.cluster_id, follower.id, leader)
            )
            time.sleep(2)
            figures["snapshot_streams"] = codes
            figures["follower_peak_rss_mib_before"] = round(before / 1024)
            figures["follower_peak_rss_mib_after"] = round(
                _status_kib(follower.pid, "VmHWM") / 1024
            )
            figures["follower_rss_mib_after"] = round(_status_kib(follower.pid, "VmRSS") / 1024)
            figures["snapshot_leader_kept"] = (leader, term) == _leader(cluster)
    return figures


def main(argv: list[str]) -> int:
    """Parse the options, run the probe, print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3, choices=[3, 5])
    parser.add_argument("--proxy", action="store_true", help="links through the embedded proxy")
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(probe(args.nodes, args.proxy)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
