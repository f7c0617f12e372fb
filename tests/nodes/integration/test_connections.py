"""Connections that never finish their handshake, or go quiet, are closed by the node."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from experiments.cluster import LocalCluster, UpOptions
from experiments.cluster.testing import running_cluster

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
"""The HTTP/2 client preface and an empty SETTINGS frame: a handshake, then silence."""


@pytest.fixture(scope="module", name="cluster")
def fixture_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A one-node cluster whose limits are short: 0.5 s to handshake, 2 s of idleness."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CHAOSLAB_HANDSHAKE_TIMEOUT_MS", "500")
        env.setenv("CHAOSLAB_IDLE_TIMEOUT_MS", "2000")
        with running_cluster(tmp_path_factory.mktemp("conns"), UpOptions(nodes=1)) as cluster:
            yield cluster


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Read until the server closes the connection (True) or ``deadline`` passes (False)."""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(4096):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


class TestHalfOpen:
    """Server-side handshake and idle limits."""

    @pytest.mark.parametrize("listener", ["listen", "peer_listen"])
    def test_silent_and_idle_connections_are_closed(
        self, cluster: LocalCluster, listener: str
    ) -> None:
        """200 connections that never speak and 20 that handshake then idle are all closed
        by the node (bounded wait: 30 s for all of them)."""
        host, _, port = getattr(cluster.state().node(1), listener).rpartition(":")
        silent = [socket.create_connection((host, int(port)), timeout=5) for _ in range(200)]
        idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(20)]
        for sock in idle:
            sock.sendall(PREFACE)
        deadline = time.monotonic() + 30
        try:
            closed = sum(closed_by_server(sock, deadline) for sock in silent + idle)
        finally:
            for sock in silent + idle:
                sock.close()

        assert 220 == closed
