"""proxy.control without a Toxiproxy: unreachable servers, silent servers, bad URLs, isolation."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator

import pytest
import toxiproxy.api

from proxy.control import ToxiproxyControl, ToxiproxyUnreachable


@pytest.fixture(name="closed_port")
def fixture_closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(name="silent_port")
def fixture_silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


class TestUnreachable:
    def test_refused_names_the_url(self, closed_port: int) -> None:
        """With nothing listening, the error says no Toxiproxy answers at that URL."""
        control = ToxiproxyControl(f"http://127.0.0.1:{closed_port}", timeout_s=2)

        with pytest.raises(ToxiproxyUnreachable) as caught:
            control.proxies()

        expected = (None, f"no Toxiproxy answers at http://127.0.0.1:{closed_port}")
        assert expected == (caught.value.status, caught.value.message.split(" (")[0])

    def test_silent_server_times_out(self, silent_port: int) -> None:
        """A server that never answers gives ToxiproxyUnreachable after the timeout."""
        control = ToxiproxyControl(f"http://127.0.0.1:{silent_port}", timeout_s=0.2)

        with pytest.raises(ToxiproxyUnreachable, match=r"no answer within 0\.2 s") as caught:
            control.reset()

        assert "POST /reset" == caught.value.request

    def test_is_running_false(self, closed_port: int) -> None:
        """is_running is False when nothing answers."""
        assert not ToxiproxyControl(f"http://127.0.0.1:{closed_port}").is_running()

    def test_client_globals_restored(self, closed_port: int) -> None:
        """After a failed call the client's global host, port and requests are as before."""
        consumer = toxiproxy.api.APIConsumer
        before = (consumer.host, consumer.port, toxiproxy.api.requests)
        control = ToxiproxyControl(f"http://127.0.0.1:{closed_port}", timeout_s=1)

        with pytest.raises(ToxiproxyUnreachable):
            control.set_enabled("n1_n2", False)

        assert before == (consumer.host, consumer.port, toxiproxy.api.requests)


class TestUrl:
    @pytest.mark.parametrize("url", ["https://127.0.0.1:8474", "127.0.0.1:8474", "http://h:1/x"])
    def test_rejects_non_http(self, url: str) -> None:
        """Only http://HOST:PORT is accepted (the client speaks plain http)."""
        with pytest.raises(ValueError, match="expected http://HOST:PORT"):
            ToxiproxyControl(url)

    def test_default_port(self) -> None:
        """A URL without a port means Toxiproxy's 8474."""
        assert "http://localhost:8474" == ToxiproxyControl("http://localhost").url


class _OldToxiproxy(http.server.BaseHTTPRequestHandler):
    """Answers like a Toxiproxy before 2.6: PATCH is 405, POST updates the toxic."""

    def do_PATCH(self) -> None:
        self.send_response(405)
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        sent = json.loads(self.rfile.read(length))
        body = json.dumps(
            {
                "name": "slow",
                "type": "latency",
                "stream": "downstream",
                "toxicity": 1,
                "attributes": sent["attributes"],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


@pytest.fixture(name="old_server")
def fixture_old_server() -> Iterator[str]:
    """A loopback HTTP server that behaves like a pre-2.6 Toxiproxy for toxic updates."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OldToxiproxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class TestOldServer:
    def test_update_falls_back_to_post(self, old_server: str) -> None:
        """When PATCH is 405 (Toxiproxy < 2.6), update_toxic uses POST and returns the toxic."""
        control = ToxiproxyControl(old_server, timeout_s=5)

        updated = control.update_toxic("n1_n2", "slow", attributes={"latency": 7})

        assert {"latency": 7} == dict(updated.attributes)
