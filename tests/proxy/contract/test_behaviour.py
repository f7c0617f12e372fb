"""What each toxic does to real TCP traffic through a proxy to an echo server.

Times are asserted as lower bounds only (a loaded machine can only make
things slower); "nothing arrived" is shown by the connection closing first.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.proxy.contract.conftest import Api


def proxied(api: Api, echo_server: str, name: str = "p") -> str:
    """Create a proxy to the echo server; return its listen address."""
    listen: str = api.create_proxy(name, echo_server)["listen"]
    return listen


def held_until_removed(api: Api, listen: str, toxic: Mapping[str, Any], data: bytes) -> bytes:
    """On a live connection, add a toxic that holds data, send, remove the toxic, read."""
    with api.connect(listen) as sock:
        round_trip(api, sock, b"warm")
        created = api.add_toxic("p", **toxic)
        sock.sendall(data)
        time.sleep(0.2)
        api.request("DELETE", f"/proxies/p/toxics/{created['name']}")
        return api.recv_exactly(sock, len(data))


def round_trip(api: Api, sock: socket.socket, data: bytes) -> tuple[bytes, float]:
    """Send data, read the echo; return it and the seconds it took."""
    start = time.monotonic()
    sock.sendall(data)
    echoed = api.recv_exactly(sock, len(data))
    return echoed, time.monotonic() - start


class TestPassThrough:
    def test_bytes_come_back_unchanged(self, api: Api, echo_server: str) -> None:
        """With no toxics, 1 MB goes through and back intact."""
        payload = bytes(range(256)) * 4096
        with api.connect(proxied(api, echo_server)) as sock:
            sock.sendall(payload)
            echoed = api.recv_exactly(sock, len(payload))

        assert payload == echoed

    def test_failed_dial_accepts_then_closes(self, api: Api) -> None:
        """When the upstream refuses, the client is accepted and then sees end of stream."""
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            dead = f"127.0.0.1:{closed.getsockname()[1]}"
        listen = api.create_proxy("dead", dead)["listen"]

        with api.connect(listen) as sock:
            data = api.recv_until_closed(sock)

        assert b"" == data


class TestLatency:
    def test_adds_at_least_the_delay(self, api: Api, echo_server: str) -> None:
        """A 200 ms downstream latency makes a round trip take at least 200 ms."""
        listen = proxied(api, echo_server)
        api.add_toxic("p", type="latency", attributes={"latency": 200})
        with api.connect(listen) as sock:
            echoed, took = round_trip(api, sock, b"ping")

        assert b"ping" == echoed
        assert took >= 0.2

    def test_both_directions_add_up(self, api: Api, echo_server: str) -> None:
        """Latency upstream and downstream both count."""
        listen = proxied(api, echo_server)
        api.add_toxic("p", type="latency", attributes={"latency": 150})
        api.add_toxic("p", type="latency", stream="upstream", attributes={"latency": 150})
        with api.connect(listen) as sock:
            _, took = round_trip(api, sock, b"ping")

        assert took >= 0.3

    def test_applies_to_a_live_connection(self, api: Api, echo_server: str) -> None:
        """A toxic added while a connection is open affects it at once."""
        listen = proxied(api, echo_server)
        with api.connect(listen) as sock:
            round_trip(api, sock, b"warm")
            api.add_toxic("p", type="latency", attributes={"latency": 200})
            _, took = round_trip(api, sock, b"ping")

        assert took >= 0.2

    def test_removal_releases_held_data(self, api: Api, echo_server: str) -> None:
        """Data held by a 60 s latency arrives as soon as the toxic is removed."""
        toxic = {"type": "latency", "attributes": {"latency": 60_000}}

        echoed = held_until_removed(api, proxied(api, echo_server), toxic, b"held")

        assert b"held" == echoed

    def test_toxicity_zero_never_applies(self, api: Api, echo_server: str) -> None:
        """A toxic with toxicity 0 leaves the link alone (a 60 s latency is not felt)."""
        listen = proxied(api, echo_server)
        api.add_toxic("p", type="latency", toxicity=0, attributes={"latency": 60_000})
        with api.connect(listen) as sock:
            echoed, _ = round_trip(api, sock, b"free")

        assert b"free" == echoed


class TestBandwidth:
    def test_slows_transfer(self, api: Api, echo_server: str) -> None:
        """50 KB at 100 KB/s downstream takes at least 0.4 s, and arrives whole."""
        listen = proxied(api, echo_server)
        api.add_toxic("p", type="bandwidth", attributes={"rate": 100})
        payload = b"b" * 50_000
        with api.connect(listen) as sock:
            echoed, took = round_trip(api, sock, payload)

        assert payload == echoed
        assert took >= 0.4

    def test_rate_zero_stalls_without_loss(self, api: Api, echo_server: str) -> None:
        """Rate 0 holds the data; removing the toxic delivers all of it."""
        toxic = {"type": "bandwidth", "attributes": {"rate": 0}}

        echoed = held_until_removed(api, proxied(api, echo_server), toxic, b"stalled")

        assert b"stalled" == echoed


class TestTimeout:
    def test_zero_drops_data_until_removed_then_closes(self, api: Api, echo_server: str) -> None:
        """timeout 0 drops the data; removing it closes the connection with nothing delivered."""
        listen = proxied(api, echo_server)
        with api.connect(listen) as sock:
            round_trip(api, sock, b"warm")
            api.add_toxic("p", type="timeout", attributes={"timeout": 0})
            sock.sendall(b"lost")
            time.sleep(0.2)
            api.request("DELETE", "/proxies/p/toxics/timeout_downstream")
            data = api.recv_until_closed(sock)

        assert b"" == data

    def test_positive_closes_after_the_timeout(self, api: Api, echo_server: str) -> None:
        """timeout 300 closes the connection, no sooner than 300 ms after it opened."""
        listen = proxied(api, echo_server)
        api.add_toxic("p", type="timeout", attributes={"timeout": 300})
        start = time.monotonic()
        with api.connect(listen) as sock:
            data = api.recv_until_closed(sock)
        took = time.monotonic() - start

        assert b"" == data
        assert took >= 0.3

    def test_reset_closes_blackholed_connections(self, api: Api, echo_server: str) -> None:
        """/reset removes a timeout toxic and so closes the proxy's connections."""
        listen = proxied(api, echo_server)
        with api.connect(listen) as sock:
            round_trip(api, sock, b"warm")
            api.add_toxic("p", type="timeout", stream="upstream", attributes={"timeout": 0})
            sock.sendall(b"x")
            api.request("POST", "/reset")
            data = api.recv_until_closed(sock)

        assert b"" == data


class TestLimitData:
    def test_closes_after_n_bytes(self, api: Api, echo_server: str) -> None:
        """limit_data 10 downstream lets exactly 10 bytes back, then closes."""
        listen = proxied(api, echo_server)
        api.add_toxic("p", type="limit_data", attributes={"bytes": 10})
        with api.connect(listen) as sock:
            sock.sendall(b"0123456789abcdefghij")
            data = api.recv_until_closed(sock)

        assert b"0123456789" == data


class TestResetPeer:
    def test_resets_the_connection(self, api: Api, echo_server: str) -> None:
        """A connection opened under reset_peer is reset (RST) when data arrives."""
        listen = proxied(api, echo_server)
        api.add_toxic("p", type="reset_peer", stream="upstream", attributes={"timeout": 0})
        with api.connect(listen) as sock, pytest.raises(ConnectionResetError):
            sock.sendall(b"x")
            api.recv_until_closed(sock)


class TestSlicer:
    def test_splits_with_delays_and_keeps_bytes(self, api: Api, echo_server: str) -> None:
        """Slicing 40 bytes into 10-byte pieces 100 ms apart takes >= 0.3 s; bytes intact."""
        listen = proxied(api, echo_server)
        api.add_toxic(
            "p",
            type="slicer",
            attributes={"average_size": 10, "size_variation": 0, "delay": 100_000},
        )
        payload = bytes(range(40))
        with api.connect(listen) as sock:
            echoed, took = round_trip(api, sock, payload)

        assert payload == echoed
        assert took >= 0.3


class TestSlowClose:
    def test_delays_the_close(self, api: Api, echo_server: str) -> None:
        """With slow_close 300 downstream, the client sees end of stream >= 300 ms after closing."""
        listen = proxied(api, echo_server)
        api.add_toxic("p", type="slow_close", attributes={"delay": 300})
        with api.connect(listen) as sock:
            start = time.monotonic()
            sock.shutdown(socket.SHUT_WR)
            data = api.recv_until_closed(sock)
        took = time.monotonic() - start

        assert b"" == data
        assert took >= 0.3


class TestEnableDisable:
    def test_disable_refuses_and_closes_then_enable_restores(
        self, api: Api, echo_server: str
    ) -> None:
        """Disabling closes open connections and refuses new ones; enabling serves the same port."""
        listen = proxied(api, echo_server)
        with api.connect(listen) as sock:
            round_trip(api, sock, b"warm")
            api.request("PATCH", "/proxies/p", {"enabled": False})
            closed = api.recv_until_closed(sock)
        with pytest.raises(ConnectionRefusedError):
            api.connect(listen).close()
        api.request("PATCH", "/proxies/p", {"enabled": True})
        with api.connect(listen) as sock:
            echoed, _ = round_trip(api, sock, b"back")

        assert (b"", b"back") == (closed, echoed)

    def test_delete_closes_connections(self, api: Api, echo_server: str) -> None:
        """Deleting a proxy closes its connections."""
        listen = proxied(api, echo_server)
        with api.connect(listen) as sock:
            round_trip(api, sock, b"x")
            api.request("DELETE", "/proxies/p")
            data = api.recv_until_closed(sock)

        assert b"" == data
