"""Proxied connections end cleanly: no connection or task is left behind, however they end."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import requests

from proxy.server import ServerThread


async def _task_count() -> int:
    return len(asyncio.all_tasks())


def _connection_count(server: ServerThread, name: str) -> int:
    async def count() -> int:
        return server.server.registry.get(name).connection_count

    return server.call(count())


def settle(read: object, at_most: int) -> int:
    """Poll a counter (bounded: 50 x 0.1 s) until it is <= at_most; return its last value."""
    assert callable(read)
    value: int = read()
    for _ in range(50):
        if value <= at_most:
            break
        time.sleep(0.1)
        value = read()
    return value


class TestConnectionLifecycle:
    def test_abrupt_and_clean_closes_leave_nothing(
        self, embedded_server: ServerThread, echo_server: str
    ) -> None:
        """30 connections (half reset by the client, half closed), under toxics, all go away.

        It inspects the embedded server's registry and tasks, so it talks to the embedded
        server explicitly, whatever $TOXIPROXY_URL points at.
        """
        reset = embedded_server.url
        for name in requests.get(f"{reset}/proxies", timeout=10).json():
            requests.delete(f"{reset}/proxies/{name}", timeout=10)
        baseline = settle(lambda: embedded_server.call(_task_count()), at_most=1)
        proxy = requests.post(
            f"{reset}/proxies",
            json={"name": "life", "upstream": echo_server, "listen": "127.0.0.1:0"},
            timeout=10,
        ).json()
        for fields in (
            {"type": "latency", "attributes": {"latency": 5, "jitter": 5}},
            {"type": "slicer", "stream": "upstream", "attributes": {"average_size": 3}},
            {"type": "bandwidth", "name": "bw", "attributes": {"rate": 10_000}},
        ):
            requests.post(f"{reset}/proxies/life/toxics", json=fields, timeout=10)
        host, _, port = proxy["listen"].rpartition(":")
        for i in range(30):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"hello")
                echoed = b""
                while len(echoed) < 5 and (more := sock.recv(5)):
                    echoed += more
                assert b"hello" == echoed
                if i % 2:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        connections = settle(lambda: _connection_count(embedded_server, "life"), at_most=0)
        requests.delete(f"{reset}/proxies/life", timeout=10)
        tasks = settle(lambda: embedded_server.call(_task_count()), at_most=baseline)

        assert (0, baseline) == (connections, tasks)
