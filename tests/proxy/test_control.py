"""proxy.control against a running Toxiproxy (the ``toxiproxy_url`` fixture: embedded or real)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import toxiproxy.api

from proxy.control import (
    ProxyApiError,
    ProxyBadRequest,
    ProxyConflict,
    ProxyInfo,
    ProxyNotFound,
    Toxic,
    ToxiproxyControl,
)

UPSTREAM = "127.0.0.1:9"  # never dialled: these tests open no connection through the proxies


@pytest.fixture(name="control")
def fixture_control(toxiproxy_url: str) -> Iterator[ToxiproxyControl]:
    """A control on the test server, with no proxies before and after the test."""
    control = ToxiproxyControl(toxiproxy_url, timeout_s=10)
    for name in control.proxies():
        control.delete(name)
    yield control
    for name in control.proxies():
        control.delete(name)


class TestProxies:
    def test_create_get_list_delete(self, control: ToxiproxyControl) -> None:
        """A created proxy is listed and fetched with its real port, and gone once deleted."""
        made = control.create("alpha", UPSTREAM)
        listed = control.proxies()
        fetched = control.proxy("alpha")
        control.delete("alpha")

        expected = ProxyInfo(name="alpha", listen=made.listen, upstream=UPSTREAM, enabled=True)
        assert (expected, False, {"alpha": expected}, expected, {}) == (
            made,
            made.listen.endswith(":0"),
            listed,
            fetched,
            control.proxies(),
        )

    def test_create_twice_conflicts(self, control: ToxiproxyControl) -> None:
        """Creating a proxy whose name exists raises ProxyConflict with status 409."""
        control.create("alpha", UPSTREAM)

        with pytest.raises(ProxyConflict) as caught:
            control.create("alpha", UPSTREAM)

        assert 409 == caught.value.status

    def test_port_clash_is_a_clear_500(self, control: ToxiproxyControl) -> None:
        """A listen port already taken is a ProxyApiError 500 quoting the bind error."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]

            with pytest.raises(ProxyApiError) as caught:
                control.create("alpha", UPSTREAM, listen=f"127.0.0.1:{port}")

        assert (500, True) == (caught.value.status, "address already in use" in str(caught.value))

    def test_missing_proxy(self, control: ToxiproxyControl) -> None:
        """Asking for an unknown proxy raises ProxyNotFound naming the request."""
        with pytest.raises(ProxyNotFound) as caught:
            control.proxy("ghost")

        assert (404, "GET /proxies/ghost", "proxy not found") == (
            caught.value.status,
            caught.value.request,
            caught.value.message,
        )

    def test_disable_enable(self, control: ToxiproxyControl) -> None:
        """Disabling and enabling a proxy shows in its state."""
        control.create("alpha", UPSTREAM)

        control.set_enabled("alpha", False)
        disabled = control.proxy("alpha").enabled
        control.set_enabled("alpha", True)

        assert (False, True) == (disabled, control.proxy("alpha").enabled)

    def test_populate_is_idempotent(self, control: ToxiproxyControl) -> None:
        """Populating the same config twice keeps the proxies (and their toxics) as they were."""
        config = [
            {"name": "a", "listen": "127.0.0.1:0", "upstream": UPSTREAM, "enabled": True},
            {"name": "b", "listen": "127.0.0.1:0", "upstream": UPSTREAM, "enabled": True},
        ]
        first = control.populate(config)
        fixed = [{**c, "listen": p.listen} for c, p in zip(config, first, strict=True)]
        control.populate(fixed)
        control.add_toxic("a", Toxic(type="latency", attributes={"latency": 5}))

        again = control.populate(fixed)

        assert (["a", "b"], 1) == ([p.name for p in again], len(control.proxy("a").toxics))

    def test_reset_enables_and_clears(self, control: ToxiproxyControl) -> None:
        """reset re-enables every proxy and removes every toxic, keeping the proxies."""
        control.create("alpha", UPSTREAM)
        control.add_toxic("alpha", Toxic(type="latency", attributes={"latency": 5}))
        control.set_enabled("alpha", False)

        control.reset()

        got = control.proxy("alpha")
        assert (True, ()) == (got.enabled, got.toxics)


class TestToxics:
    def test_add_update_remove(self, control: ToxiproxyControl) -> None:
        """A toxic can be added, patched (only the given keys change) and removed."""
        control.create("alpha", UPSTREAM)
        added = control.add_toxic(
            "alpha",
            Toxic(
                type="latency",
                name="slow",
                stream="upstream",
                attributes={"latency": 100, "jitter": 5},
            ),
        )

        updated = control.update_toxic("alpha", "slow", attributes={"latency": 250})
        listed = control.toxics("alpha")
        control.remove_toxic("alpha", "slow")

        assert (
            Toxic(
                type="latency",
                name="slow",
                stream="upstream",
                attributes={"latency": 100, "jitter": 5},
            ),
            {"latency": 250, "jitter": 5},
            [updated],
            [],
        ) == (added, dict(updated.attributes), listed, control.toxics("alpha"))

    def test_default_name(self, control: ToxiproxyControl) -> None:
        """A toxic without a name gets <type>_<stream>."""
        control.create("alpha", UPSTREAM)

        made = control.add_toxic("alpha", Toxic(type="timeout", attributes={"timeout": 0}))

        assert "timeout_downstream" == made.name

    def test_duplicate_conflicts(self, control: ToxiproxyControl) -> None:
        """A second toxic of the same name is ProxyConflict."""
        control.create("alpha", UPSTREAM)
        control.add_toxic("alpha", Toxic(type="noop", name="x"))

        with pytest.raises(ProxyConflict):
            control.add_toxic("alpha", Toxic(type="noop", name="x", stream="upstream"))

    def test_bad_type_is_bad_request(self, control: ToxiproxyControl) -> None:
        """An unknown toxic type is ProxyBadRequest with the server's message."""
        control.create("alpha", UPSTREAM)

        with pytest.raises(ProxyBadRequest) as caught:
            control.add_toxic("alpha", Toxic(type="gremlins"))

        assert (400, "invalid toxic type") == (caught.value.status, caught.value.message)

    def test_update_missing(self, control: ToxiproxyControl) -> None:
        """Updating a toxic that does not exist is ProxyNotFound."""
        control.create("alpha", UPSTREAM)

        with pytest.raises(ProxyNotFound, match="toxic not found"):
            control.update_toxic("alpha", "ghost", attributes={"latency": 1})


class TestIsolation:
    def test_instances_keep_their_own_address(
        self, control: ToxiproxyControl, toxiproxy_url: str
    ) -> None:
        """Threads using a good and an unreachable instance never leak addresses into each other."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            dead_port = sock.getsockname()[1]
        dead = ToxiproxyControl(f"http://127.0.0.1:{dead_port}", timeout_s=2)
        control.create("alpha", UPSTREAM)
        before = (toxiproxy.api.APIConsumer.host, toxiproxy.api.APIConsumer.port)
        outcomes: list[str] = []

        def hammer(which: ToxiproxyControl) -> None:
            for _ in range(15):
                try:
                    outcomes.append(",".join(which.proxies()))
                except ProxyApiError:
                    outcomes.append("unreachable")

        threads = [threading.Thread(target=hammer, args=(c,)) for c in (control, dead) * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        assert ({"alpha": 30, "unreachable": 30}, before) == (
            {k: outcomes.count(k) for k in set(outcomes)},
            (toxiproxy.api.APIConsumer.host, toxiproxy.api.APIConsumer.port),
        )
