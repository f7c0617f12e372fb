"""Fixtures for every proxy test: a Toxiproxy API to talk to, a TCP echo server, a clean slate.

``toxiproxy_url`` is ``$TOXIPROXY_URL`` when set, else the embedded server
(started once per session on a free loopback port, in a background thread with
its own event loop). ``embedded_server`` is always the embedded one.
``reset`` deletes every proxy before and after a test.
"""

from __future__ import annotations

import os
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest
import requests

from proxy.server import ServerThread, run_in_thread

#: Seed of the session's embedded server (its toxicity, jitter and slicer draws).
EMBEDDED_SEED = 20261121


@pytest.fixture(scope="session", name="embedded_server")
def fixture_embedded_server() -> Iterator[ServerThread]:
    """The embedded Toxiproxy-compatible server, for the whole session."""
    with run_in_thread("127.0.0.1", 0, seed=EMBEDDED_SEED) as handle:
        yield handle


@pytest.fixture(scope="session", name="toxiproxy_url")
def fixture_toxiproxy_url(request: pytest.FixtureRequest) -> str:
    """Base URL of the Toxiproxy API under test: ``$TOXIPROXY_URL`` or the embedded server."""
    url = os.environ.get("TOXIPROXY_URL")
    if url:
        return url.rstrip("/")
    server: ServerThread = request.getfixturevalue("embedded_server")
    return server.url


def delete_all_proxies(url: str) -> None:
    """Delete every proxy of a Toxiproxy server (its /reset keeps them).

    Args:
        url: the API's base URL.
    """
    proxies = requests.get(f"{url}/proxies", timeout=10).json()
    for name in proxies:
        requests.delete(f"{url}/proxies/{name}", timeout=10)


@pytest.fixture(name="reset")
def fixture_reset(toxiproxy_url: str) -> Iterator[str]:
    """Start and end the test with no proxies on the server; yields its URL."""
    delete_all_proxies(toxiproxy_url)
    yield toxiproxy_url
    delete_all_proxies(toxiproxy_url)


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(30)
        try:
            while data := sock.recv(65536):
                sock.sendall(data)
        except OSError:
            pass


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


@pytest.fixture(scope="session", name="echo_server")
def fixture_echo_server() -> Iterator[str]:
    """A TCP echo server on loopback for the whole session; yields ``127.0.0.1:PORT``."""
    server = _EchoServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, name="echo-server", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(name="echo_address")
def fixture_echo_address(echo_server: str) -> str:
    """The echo server's ``127.0.0.1:PORT`` (an alias of ``echo_server``)."""
    return echo_server
