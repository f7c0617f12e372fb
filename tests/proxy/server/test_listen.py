"""Listen addresses: Go's host:port parsing, resolution for comparisons, binding and display."""

from __future__ import annotations

import asyncio
import socket

import pytest

from proxy.server.listen import AddressError, HostPort, bind, canonical, split


class TestSplit:
    @pytest.mark.parametrize(
        ("address", "expected"),
        [
            ("127.0.0.1:80", HostPort(host="127.0.0.1", port=80)),
            ("[::1]:8474", HostPort(host="::1", port=8474)),
            (":5000", HostPort(host="", port=5000)),
            ("", HostPort(host="", port=0)),
            ("localhost:0", HostPort(host="localhost", port=0)),
        ],
    )
    def test_good_addresses(self, address: str, expected: HostPort) -> None:
        """Host and port split as Go's SplitHostPort does; the empty address is any:0."""
        assert expected == split(address)

    @pytest.mark.parametrize(
        ("address", "message"),
        [
            ("abc", "address abc: missing port in address"),
            ("1:2:3", "address 1:2:3: too many colons in address"),
            ("h:70000", "address h:70000: invalid port"),
            ("h:http", "address h:http: unknown port"),
            ("[::1", "address [::1: missing ']' in address"),
        ],
    )
    def test_bad_addresses(self, address: str, message: str) -> None:
        """Bad addresses fail with Go's messages."""
        with pytest.raises(AddressError) as caught:
            split(address)

        assert message == str(caught.value)


class TestCanonical:
    @pytest.mark.parametrize(
        ("address", "expected"),
        [
            ("localhost:0", "127.0.0.1:0"),
            ("0.0.0.0:9", "0.0.0.0:9"),
            (":9", ":9"),
            ("", ":0"),
            ("[::]:9", "[::]:9"),
        ],
    )
    def test_resolves_like_resolve_tcp_addr(self, address: str, expected: str) -> None:
        """Names resolve (IPv4 first); wildcards stay as written, as Go's String() shows them."""
        assert expected == asyncio.run(canonical(address))


class TestBind:
    def test_port_zero_is_shown_as_the_real_port(self) -> None:
        """``localhost:0`` binds a free loopback port and is shown as ``127.0.0.1:PORT``."""
        sock, shown = asyncio.run(bind("localhost:0"))
        try:
            port = sock.getsockname()[1]
        finally:
            sock.close()

        assert f"127.0.0.1:{port}" == shown

    def test_taken_port_gives_go_bind_error(self) -> None:
        """A port in use fails with ``listen tcp HOST:PORT: bind: address already in use``."""
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        try:
            with pytest.raises(AddressError) as caught:
                asyncio.run(bind(f"127.0.0.1:{port}"))
        finally:
            holder.close()

        assert f"listen tcp 127.0.0.1:{port}: bind: address already in use" == str(caught.value)

    def test_bad_address_gives_listen_tcp_prefix(self) -> None:
        """A malformed address fails as ``listen tcp: address ...``."""
        with pytest.raises(AddressError) as caught:
            asyncio.run(bind("nonsense"))

        assert "listen tcp: address nonsense: missing port in address" == str(caught.value)
