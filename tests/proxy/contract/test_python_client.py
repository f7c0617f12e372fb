"""The contract through toxiproxy-python, the official client (``import toxiproxy``).

Its host and port are class attributes of APIConsumer, global to the process:
each test points them at its target and monkeypatch restores them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import toxiproxy
import toxiproxy.api
import toxiproxy.exceptions

if TYPE_CHECKING:
    from tests.proxy.contract.conftest import Api


@pytest.fixture(name="client")
def fixture_client(api: Api, monkeypatch: pytest.MonkeyPatch) -> toxiproxy.Toxiproxy:
    """A toxiproxy-python client pointed at the target server (restored after the test)."""
    parts = urlsplit(api.url)
    monkeypatch.setattr(toxiproxy.api.APIConsumer, "host", parts.hostname)
    monkeypatch.setattr(toxiproxy.api.APIConsumer, "port", parts.port)
    return toxiproxy.Toxiproxy()


class TestPythonClient:
    def test_create_list_destroy(self, client: toxiproxy.Toxiproxy, echo_server: str) -> None:
        """create() returns the proxy with its real port; proxies() lists it; destroy removes it."""
        proxy = client.create(upstream=echo_server, name="py")

        listed = client.proxies()
        destroyed = client.destroy(proxy)

        assert ["py"] == list(listed)
        assert (echo_server, True) == (listed["py"].upstream, listed["py"].enabled)
        assert not proxy.listen.endswith(":0")
        assert (True, None) == (destroyed, client.get_proxy("py"))

    def test_duplicate_raises_proxy_exists(
        self, client: toxiproxy.Toxiproxy, echo_server: str
    ) -> None:
        """Creating a name twice raises ProxyExists."""
        client.create(upstream=echo_server, name="py")

        with pytest.raises(toxiproxy.exceptions.ProxyExists):
            client.create(upstream=echo_server, name="py")

    def test_toxics_round_trip_and_take_effect(
        self, client: toxiproxy.Toxiproxy, api: Api, echo_server: str
    ) -> None:
        """add_toxic/toxics/destroy_toxic work, and the latency is felt on the wire."""
        proxy = client.create(upstream=echo_server, name="py")
        proxy.add_toxic(type="latency", attributes={"latency": 200})
        toxics = proxy.toxics()
        with api.connect(proxy.listen) as sock:
            start = time.monotonic()
            sock.sendall(b"ping")
            echoed = api.recv_exactly(sock, 4)
            took = time.monotonic() - start
        destroyed = proxy.destroy_toxic("latency_downstream")

        assert ["latency_downstream"] == list(toxics)
        assert ({"latency": 200, "jitter": 0}, 1) == (
            toxics["latency_downstream"].attributes,
            toxics["latency_downstream"].toxicity,
        )
        assert (b"ping", True, {}) == (echoed, destroyed, proxy.toxics())
        assert took >= 0.2

    def test_bad_toxic_raises_invalid_toxic(
        self, client: toxiproxy.Toxiproxy, echo_server: str
    ) -> None:
        """An unknown toxic type raises InvalidToxic (a 400)."""
        proxy = client.create(upstream=echo_server, name="py")

        with pytest.raises(toxiproxy.exceptions.InvalidToxic):
            proxy.add_toxic(type="nope")

    def test_disable_enable_and_reset(
        self, client: toxiproxy.Toxiproxy, api: Api, echo_server: str
    ) -> None:
        """disable() refuses connections, enable() restores them, reset() answers True."""
        proxy = client.create(upstream=echo_server, name="py")
        proxy.disable()
        with pytest.raises(ConnectionRefusedError):
            api.connect(proxy.listen).close()
        proxy.enable()
        with api.connect(proxy.listen) as sock:
            sock.sendall(b"ok")
            echoed = api.recv_exactly(sock, 2)

        assert (b"ok", True) == (echoed, client.reset())

    def test_missing_proxy_raises_not_found(
        self, client: toxiproxy.Toxiproxy, echo_server: str
    ) -> None:
        """Asking a deleted proxy for its toxics raises NotFound."""
        proxy = client.create(upstream=echo_server, name="py")
        client.destroy(proxy)

        with pytest.raises(toxiproxy.exceptions.NotFound):
            proxy.toxics()

    def test_version_and_running(self, client: toxiproxy.Toxiproxy) -> None:
        """running() is True and version() is the raw JSON version body."""
        assert client.running()
        assert b'"version": "2.' in client.version()
