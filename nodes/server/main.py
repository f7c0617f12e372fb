"""Run one node until SIGTERM/SIGINT or a storage failure: storage, node, gRPC server.

Rules: the process lifecycle only. Exit codes: 0 after a graceful shutdown, 1 when
the node had to stop (storage failure) or could not start (bad data directory,
corrupt log, address in use).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal

import grpc
import structlog

from nodes.rpc import chaoslab_pb2_grpc as pb_grpc
from nodes.server.config import MAX_PEER_MESSAGE_BYTES, NodeSettings, SyncMode
from nodes.server.node import Node
from nodes.server.services import AdminService, KvService, PeerService
from nodes.storage import CorruptLogError, DataDirError, OsFileSystem, SyncPolicy, WalStorage

_log = structlog.get_logger()

GRACE_S = 2.0
"""How long in-flight RPCs get to finish on shutdown."""


def server_options(keepalive_ms: int) -> list[tuple[str, int]]:
    """gRPC server options: bounded messages, and tolerate (and send) keepalive pings."""
    return [
        # Never share a port: a second node on it would silently take half the connections.
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", MAX_PEER_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_PEER_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", keepalive_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", min(keepalive_ms, 500) // 2),
        ("grpc.http2.max_ping_strikes", 0),
    ]


def open_storage(settings: NodeSettings) -> WalStorage:
    """Open the node's write-ahead log in ``settings.data_dir``."""
    policy = SyncPolicy.ALWAYS if settings.sync is SyncMode.ALWAYS else SyncPolicy.UNSAFE_NEVER
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return WalStorage(OsFileSystem(), settings.data_dir, sync=policy)


async def serve(settings: NodeSettings, *, seed: int | None = None) -> int:
    """Run the node until a signal or a fatal error.

    Args:
        settings: validated settings.
        seed: seeds election timeouts (default: from the OS).

    Returns:
        The process exit code.
    """
    log = _log.bind(node=settings.id)
    if settings.sync is SyncMode.NEVER:
        log.warning("unsafe_sync_never", detail="UNSAFE: fsync is off; a crash loses acked writes")
    try:
        storage = open_storage(settings)
        node = Node(settings, storage, random.Random(seed))
    except (DataDirError, CorruptLogError, OSError) as exc:
        log.error("node_refused_to_start", reason=str(exc), data_dir=str(settings.data_dir))
        return 1
    server = grpc.aio.server(options=server_options(settings.keepalive_ms))
    kv = KvService(node)
    pb_grpc.add_KvServicer_to_server(kv, server)
    pb_grpc.add_PeerServicer_to_server(PeerService(node), server)
    pb_grpc.add_AdminServicer_to_server(AdminService(node), server)
    try:
        server.add_insecure_port(settings.listen)
    except RuntimeError as exc:
        log.error("node_refused_to_start", reason=f"cannot listen on {settings.listen}: {exc}")
        await node.stop()
        return 1
    await server.start()
    node.start()
    log.info(
        "node_started",
        listen=settings.listen,
        peers={str(k): v for k, v in settings.peers.items()},
        data_dir=str(settings.data_dir),
        term=node.replica.core.term,
        applied=node.replica.kv.applied_index,
        sync=settings.sync.value,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stop_task = asyncio.create_task(stop.wait())
    fail_task = asyncio.create_task(node.failed.wait())
    await asyncio.wait({stop_task, fail_task}, return_when=asyncio.FIRST_COMPLETED)
    for task in (stop_task, fail_task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    failed = node.failed.is_set()
    log.info("node_stopping", reason=node.failure if failed else "signal")
    await server.stop(GRACE_S)
    await kv.close()
    await node.stop()
    log.info("node_stopped", exit_code=1 if failed else 0)
    return 1 if failed else 0
