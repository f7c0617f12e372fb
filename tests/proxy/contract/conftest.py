"""The contract suite's targets: the embedded server always, a real Toxiproxy when one exists.

A real Toxiproxy is ``$TOXIPROXY_URL`` or a ``toxiproxy-server`` binary on PATH
(started here on a free loopback port). Each test that takes ``api`` runs once
per target; the real one is skipped, with the reason, when absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

REAL_MISSING = "no real Toxiproxy: set TOXIPROXY_URL or put toxiproxy-server on PATH"
IO_TIMEOUT_S = 10.0


class Api:
    """A thin HTTP client for one Toxiproxy server, plus socket helpers for behaviour tests."""

    def __init__(self, url: str, *, kind: str) -> None:
        self.url = url
        self.kind = kind
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "chaoslab-contract-tests"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send a request; ``body`` is JSON-encoded, ``raw`` is sent as is."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        return self.session.request(
            method, self.url + path, data=data, headers=headers, timeout=IO_TIMEOUT_S
        )

    def create_proxy(self, name: str, upstream: str, **extra: Any) -> dict[str, Any]:
        """Create a proxy on a free loopback port (unless ``listen`` is given); return it."""
        body = {"name": name, "upstream": upstream, "listen": "127.0.0.1:0", **extra}
        response = self.request("POST", "/proxies", body)
        assert 201 == response.status_code, response.text
        result: dict[str, Any] = response.json()
        return result

    def add_toxic(self, proxy: str, **fields: Any) -> dict[str, Any]:
        """Add a toxic; return it."""
        response = self.request("POST", f"/proxies/{proxy}/toxics", fields)
        assert 200 == response.status_code, response.text
        result: dict[str, Any] = response.json()
        return result

    def delete_all(self) -> None:
        """Delete every proxy."""
        for name in self.request("GET", "/proxies").json():
            self.request("DELETE", f"/proxies/{name}")

    @staticmethod
    def connect(listen: str) -> socket.socket:
        """Open a TCP connection to a proxy's ``listen`` address."""
        host, _, port = listen.rpartition(":")
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=IO_TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    @staticmethod
    def recv_exactly(sock: socket.socket, size: int) -> bytes:
        """Read exactly ``size`` bytes (or fewer if the peer closes first)."""
        data = b""
        while len(data) < size:
            more = sock.recv(size - len(data))
            if not more:
                break
            data += more
        return data

    @staticmethod
    def recv_until_closed(sock: socket.socket, limit: int = 1 << 20) -> bytes:
        """Read until the peer closes (bounded by ``limit`` bytes and the socket timeout)."""
        data = b""
        while len(data) < limit:
            more = sock.recv(65536)
            if not more:
                break
            data += more
        return data


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session", name="real_toxiproxy_url")
def fixture_real_toxiproxy_url() -> Iterator[str]:
    """URL of a real Toxiproxy (skips when there is none)."""
    url = os.environ.get("TOXIPROXY_URL")
    if url:
        yield url.rstrip("/")
        return
    binary = shutil.which("toxiproxy-server")
    if binary is None:
        pytest.skip(REAL_MISSING)
    port = _free_port()
    process = subprocess.Popen(
        [binary, "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(requests.ConnectionError):
                requests.get(f"{url}/version", timeout=1)
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"{binary} did not answer on {url} within 10 s")
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(params=["embedded", "real"], name="api")
def fixture_api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """The API of one target server, with no proxies before or after the test."""
    if request.param == "embedded":
        url = request.getfixturevalue("embedded_server").url
    else:
        url = request.getfixturevalue("real_toxiproxy_url")
    api = Api(url, kind=request.param)
    api.delete_all()
    yield api
    api.delete_all()
    api.session.close()
