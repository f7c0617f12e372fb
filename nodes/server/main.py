"""Run one node until SIGTERM/SIGINT or a fatal failure: storage, node, two gRPC servers.

Rules: the process lifecycle only. The consistency mode picks the node: ``cp``,
``lease`` and ``stale`` run Raft (``Node``), ``ap`` its own replica (``ApNode``); the
unsafe modes and ``--failpoints`` are logged as warnings at start. With failpoints the
storage goes through ``FaultyFileSystem`` and the clock can be skewed (``failpoints``).
Clients (Kv, Admin) and peers (Peer) have separate
listeners, as etcd's 2379/2380: the client listener serves no peer call, the peer
listener nothing else, and every peer call must carry the cluster's token (``auth``).
Both listeners bound message sizes and close connections that never finish their
handshake or sit idle (``limits``). Exit codes: 0 after a graceful shutdown, 1 when
the node had to stop (``Node.failed``: a storage failure, a dead Ready loop or ticker,
a Raft invariant violation) or could not start (bad data directory, corrupt log, a lost
hard state file, an unreadable peer secret, an address in use); every refusal is one log
line naming the cause, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from pathlib import Path
from typing import Any

import grpc
import structlog

from nodes.ap import ApLog, ApReplica
from nodes.clock import NodeClock
from nodes.errors import NodeError
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc
from nodes.server.ap_node import ApNode
from nodes.server.auth import PeerAuthError, PeerAuthInterceptor, PeerCredentials
from nodes.server.config import Consistency, NodeSettings, SyncMode
from nodes.server.decoding import DecodeGuard
from nodes.server.failpoints import Failpoints
from nodes.server.limits import (
    MAX_CLIENT_MESSAGE_BYTES,
    MAX_CONCURRENT_SNAPSHOT_RECEIVES,
    MAX_CONCURRENT_STREAMS,
    MAX_PEER_MESSAGE_BYTES,
    MAX_SNAPSHOT_BYTES,
)
from nodes.server.node import Node
from nodes.server.services import AdminService, ApKvService, KvService, PeerService
from nodes.server.spool import SnapshotSpool
from nodes.server.transport import load_credentials
from nodes.server.writes import WritePath
from nodes.storage import (
    CorruptLogError,
    DataDirError,
    FileSystem,
    OsFileSystem,
    SyncPolicy,
    WalStorage,
)
from nodes.storage.faults import DiskFailpoints, FaultyFileSystem

_log = structlog.get_logger()

GRACE_S = 2.0
"""How long in-flight RPCs get to finish on shutdown."""


class ListenError(NodeError):
    """A listener could not bind its address (in use, or not this machine's)."""


def server_options(
    keepalive_ms: int,
    *,
    max_message_bytes: int = MAX_PEER_MESSAGE_BYTES,
    handshake_timeout_ms: int = 5_000,
    idle_timeout_ms: int = 300_000,
) -> list[tuple[str, int]]:
    """gRPC server options: bounded messages and streams, keepalive both ways, and no
    connection left open that never finished its handshake or went idle."""
    return [
        # Never share a port: a second node on it would silently take half the connections.
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_concurrent_streams", MAX_CONCURRENT_STREAMS),
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", keepalive_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", min(keepalive_ms, 500) // 2),
        ("grpc.http2.max_ping_strikes", 0),
        ("grpc.server_handshake_timeout_ms", handshake_timeout_ms),
        ("grpc.max_connection_idle_ms", idle_timeout_ms),
    ]


def open_storage(settings: NodeSettings, fs: FileSystem | None = None) -> WalStorage:
    """Open the node's write-ahead log in ``settings.data_dir``."""
    policy = SyncPolicy.ALWAYS if settings.sync is SyncMode.ALWAYS else SyncPolicy.UNSAFE_NEVER
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return WalStorage(fs or OsFileSystem(), settings.data_dir, sync=policy)


def build_node(
    settings: NodeSettings, *, seed: int | None = None
) -> tuple[Node | ApNode, Failpoints]:
    """The node of ``settings``' consistency mode, on its (failpoint-wrapped) disk.

    Raises:
        DataDirError, CorruptLogError, PeerAuthError, OSError: it cannot start.
    """
    clock = NodeClock(time.monotonic_ns)
    disk = DiskFailpoints() if settings.failpoints else None
    fs: FileSystem = OsFileSystem() if disk is None else FaultyFileSystem(OsFileSystem(), disk)
    failpoints = Failpoints(settings.id, clock, disk, enabled=settings.failpoints)
    if settings.consistency is not Consistency.AP:
        storage = open_storage(settings, fs)
        return Node(settings, storage, random.Random(seed), clock), failpoints
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    offset_ns = time.time_ns() - time.monotonic_ns()  # the HLC wants wall time, skewed too
    log = ApLog(fs, Path(settings.data_dir), sync=settings.sync is SyncMode.ALWAYS)
    replica = ApReplica(
        settings.id, list(settings.peers), log, lambda: (clock.now() + offset_ns) // 1_000_000
    )
    return ApNode(settings, replica, clock), failpoints


class NodeServer:
    """The client and peer listeners of one node, with their services.

    Args:
        node: the node (its transport already built).
        credentials: the peer credentials (token checked on the peer listener).
    """

    def __init__(
        self,
        node: Node | ApNode,
        credentials: PeerCredentials,
        failpoints: Failpoints | None = None,
    ) -> None:
        settings = node.settings
        self.node = node
        self.settings = settings
        self.writes: WritePath | None = None
        self.spool = SnapshotSpool(
            settings.snapshot_spool_dir,
            max_bytes=MAX_SNAPSHOT_BYTES,
            slots=MAX_CONCURRENT_SNAPSHOT_RECEIVES,
        )
        common = {
            "handshake_timeout_ms": settings.handshake_timeout_ms,
            "idle_timeout_ms": settings.idle_timeout_ms,
        }
        self.client_server = grpc.aio.server(
            interceptors=[DecodeGuard()],
            options=server_options(
                settings.keepalive_ms, max_message_bytes=MAX_CLIENT_MESSAGE_BYTES, **common
            ),
        )
        kv: KvService | ApKvService
        if isinstance(node, ApNode):
            kv = ApKvService(node)
        else:
            self.writes = WritePath(node)
            kv = KvService(node, self.writes)
        pb_grpc.add_KvServicer_to_server(kv, self.client_server)
        pb_grpc.add_AdminServicer_to_server(
            AdminService(node, failpoints, credentials), self.client_server
        )
        self.peer_server: grpc.aio.Server | None = None
        if settings.peer_listen is not None:
            self.peer_server = grpc.aio.server(
                interceptors=[PeerAuthInterceptor(credentials), DecodeGuard()],
                options=server_options(
                    settings.keepalive_ms, max_message_bytes=MAX_PEER_MESSAGE_BYTES, **common
                ),
            )
            pb_grpc.add_PeerServicer_to_server(
                PeerService(node, self.writes, self.spool), self.peer_server
            )
        self._credentials = credentials

    def bind(self) -> None:
        """Bind both listeners and prepare the snapshot spool.

        Raises:
            ListenError: an address cannot be bound.
            OSError: the spool directory cannot be prepared.
        """
        self.spool.clear()
        _bind(self.client_server, self.settings.listen, "--listen", None)
        if self.peer_server is not None and self.settings.peer_listen is not None:
            tls = self._credentials.tls
            credentials = None if tls is None else tls.server_credentials()
            _bind(self.peer_server, self.settings.peer_listen, "--peer-listen", credentials)

    async def start(self) -> None:
        """Start serving (after ``bind``)."""
        await self.client_server.start()
        if self.peer_server is not None:
            await self.peer_server.start()

    async def stop(self, grace_s: float = GRACE_S) -> None:
        """Stop both listeners, letting in-flight calls finish for ``grace_s``."""
        stops: list[Any] = [self.client_server.stop(grace_s)]
        if self.peer_server is not None:
            stops.append(self.peer_server.stop(grace_s))
        await asyncio.gather(*stops)


def _bind(
    server: grpc.aio.Server, address: str, flag: str, credentials: grpc.ServerCredentials | None
) -> None:
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        msg = f"cannot listen on {address} ({flag}): {exc}"
        raise ListenError(msg) from None
    if port == 0:  # older gRPC reports a failed bind this way
        msg = f"cannot listen on {address} ({flag}): address in use or not local"
        raise ListenError(msg)


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
    for switch in settings.unsafe:
        log.warning("unsafe_switch_on", switch=switch.value,
                    detail="UNSAFE: this node is broken on purpose, for a chaos experiment")
    if settings.consistency.unsafe:
        log.warning("unsafe_consistency_mode", consistency=settings.consistency.value,
                    detail=settings.consistency.warning)
    if settings.failpoints:
        log.warning("failpoints_enabled",
                    detail="the cluster's token holders may break this node's clock and disk")
    try:
        credentials = load_credentials(settings)
        node, failpoints = build_node(settings, seed=seed)
    except (DataDirError, CorruptLogError, PeerAuthError) as exc:
        log.error("node_refused_to_start", reason=str(exc), data_dir=str(settings.data_dir))
        return 1
    except OSError as exc:
        reason = f"{exc.filename or settings.data_dir}: {exc.strerror or exc}"
        log.error("node_refused_to_start", reason=reason, data_dir=str(settings.data_dir))
        return 1
    server = NodeServer(node, credentials, failpoints)
    try:
        server.bind()
    except (ListenError, OSError) as exc:
        log.error("node_refused_to_start", reason=str(exc))
        await node.stop()
        return 1
    await server.start()
    node.start()
    log.info(
        "node_started",
        listen=settings.listen,
        peer_listen=settings.peer_listen,
        peers={str(k): v for k, v in settings.peers.items()},
        cluster_id=settings.cluster_id,
        peer_tls=settings.peer_tls,
        data_dir=str(settings.data_dir),
        term=node.replica.core.term if isinstance(node, Node) else 0,
        applied=node.status().applied_index,
        sync=settings.sync.value,
        consistency=settings.consistency.value,
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
    await node.stop()
    log.info("node_stopped", exit_code=1 if failed else 0)
    return 1 if failed else 0
