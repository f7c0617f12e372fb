"""proxy.injection: faults applied through a running Toxiproxy, with real TCP through the proxies.

Every proxy of a 3-node topology forwards to the ``echo_server`` fixture, so "the link
works" means: a fresh connection through the proxy echoes what it is sent.
Waits are bounded; timings are asserted as lower bounds only.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator

import pytest

from proxy import faults, injection
from proxy.control import ProxyNotFound, Toxic, ToxiproxyControl
from proxy.faults import CutMode
from proxy.injection import FlappingFault, StaticFault
from proxy.ports import find_free_base_port
from proxy.topology import Link, Topology, toxiproxy_config

NODES = 3
SILENCE_S = 0.4
"""How long a cut link is given to (wrongly) answer."""


@pytest.fixture(name="topology", scope="module")
def fixture_topology() -> Topology:
    """A 3-node local topology on a free block of ports."""
    return Topology(nodes=NODES, base_port=find_free_base_port(NODES))


@pytest.fixture(name="control")
def fixture_control(
    toxiproxy_url: str, topology: Topology, echo_address: str
) -> Iterator[ToxiproxyControl]:
    """The topology's proxies on the test server, all forwarding to the echo server."""
    control = ToxiproxyControl(toxiproxy_url, timeout_s=10)
    for name in control.proxies():
        control.delete(name)
    control.populate([{**c, "upstream": echo_address} for c in toxiproxy_config(topology)])
    yield control
    for name in control.proxies():
        control.delete(name)


def _echo(address: str, payload: bytes = b"ping", wait_s: float = 5.0) -> bytes | str:
    """Send ``payload`` on a new connection; return the echo, or what went wrong."""
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
            sock.settimeout(wait_s)
            sock.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = sock.recv(len(payload) - len(got))
                if not chunk:
                    return "closed"
                got += chunk
            return got
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "silent"


def _works(topology: Topology, names: list[str]) -> dict[str, bool]:
    return {n: _echo(topology.proxy(n).address) == b"ping" for n in names}


class TestPartition:
    def test_drop_silences_cut_links_and_heal_restores(
        self, control: ToxiproxyControl, topology: Topology
    ) -> None:
        """A drop partition makes cut proxies swallow bytes; other links work; undo restores."""
        fault = StaticFault(faults.partition(topology, [[1], [2, 3]]), control).start()
        during = {
            "n1_n2": _echo(topology.proxy("n1_n2").address, wait_s=SILENCE_S),
            "n3_n1": _echo(topology.proxy("n3_n1").address, wait_s=SILENCE_S),
            "n2_n3": _echo(topology.proxy("n2_n3").address),
            "client_n1": _echo(topology.proxy("client_n1").address),
        }
        fault.undo()

        assert (
            {"n1_n2": "silent", "n3_n1": "silent", "n2_n3": b"ping", "client_n1": b"ping"},
            {"n1_n2": True, "n3_n1": True},
        ) == (during, _works(topology, ["n1_n2", "n3_n1"]))

    def test_refuse_refuses(self, control: ToxiproxyControl, topology: Topology) -> None:
        """A refuse partition turns connections away at once; undo restores them."""
        with StaticFault(faults.isolate(topology, 2, mode=CutMode.REFUSE), control):
            during = _echo(topology.proxy("n2_n1").address)

        assert ("refused", True) == (during, _works(topology, ["n2_n1"])["n2_n1"])

    def test_drop_hangs_live_connections_and_heal_closes_them(
        self, control: ToxiproxyControl, topology: Topology
    ) -> None:
        """An open connection goes silent (not closed) under drop, and is closed on heal."""
        host, port = topology.proxy("n2_n1").address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"before")
            before = sock.recv(16)
            fault = StaticFault(faults.isolate(topology, 1), control).start()
            sock.settimeout(SILENCE_S)
            sock.sendall(b"during")
            try:
                during: bytes | str = sock.recv(16)
            except TimeoutError:
                during = "silent"
            fault.undo()
            sock.settimeout(5)
            try:
                after: bytes | str = sock.recv(16)
            except ConnectionResetError:
                after = b""

        assert (b"before", "silent", b"") == (before, during, after)

    def test_refuse_closes_live_connections(
        self, control: ToxiproxyControl, topology: Topology
    ) -> None:
        """An open connection is closed at once when its proxy is refused."""
        host, port = topology.proxy("n1_n3").address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"x")
            sock.recv(1)
            with StaticFault(faults.one_way(topology, 1, 3, mode=CutMode.REFUSE), control):
                try:
                    got = sock.recv(16)
                except ConnectionResetError:
                    got = b""

        assert b"" == got

    def test_one_way_leaves_reverse(self, control: ToxiproxyControl, topology: Topology) -> None:
        """A one-way cut silences src->dst only."""
        with StaticFault(faults.one_way(topology, 1, 3), control):
            cut = _echo(topology.proxy("n1_n3").address, wait_s=SILENCE_S)
            reverse = _echo(topology.proxy("n3_n1").address)

        assert ("silent", b"ping") == (cut, reverse)

    def test_failed_apply_leaves_nothing(
        self, control: ToxiproxyControl, topology: Topology
    ) -> None:
        """If a proxy is missing midway, the toxics already added are removed again."""
        control.delete("n3_n2")
        plan = faults.isolate(topology, 3)

        with pytest.raises(ProxyNotFound):
            StaticFault(plan, control).start()

        assert {} == {n: p.toxics for n, p in control.proxies().items() if p.toxics}


class TestLatency:
    def test_adds_at_least_the_delay(self, control: ToxiproxyControl, topology: Topology) -> None:
        """With 60 ms on both streams, an echo round trip takes at least 120 ms."""
        address = topology.proxy("n1_n2").address
        with StaticFault(faults.latency(topology, [Link(src=1, dst=2)], 60), control):
            began = time.monotonic()
            echoed = _echo(address)
            elapsed_ms = (time.monotonic() - began) * 1000

        assert (b"ping", True) == (echoed, elapsed_ms >= 120), f"elapsed {elapsed_ms:.1f} ms"


class TestLoss:
    def test_flaps_as_scheduled(self, control: ToxiproxyControl, topology: Topology) -> None:
        """At every interval the server's cut proxies are exactly the seeded schedule's."""
        seed = 20240607
        plan = faults.loss(topology, topology.links, 0.5, seed=seed, interval_ms=30, max_steps=8)
        seen: list[frozenset[str]] = []

        def snapshot(_: int, __: frozenset[str]) -> None:
            proxies = control.proxies()
            seen.append(frozenset(n for n, p in proxies.items() if p.toxics))

        fault = FlappingFault(plan, control, on_step=snapshot)
        fault.start()
        ended = fault.join(30)
        fault.undo()

        assert (True, list(plan.schedule()), {}) == (
            ended,
            seen,
            {n: p.toxics for n, p in control.proxies().items() if p.toxics},
        ), f"seed={seed}"

    def test_runs_out_by_itself(self, control: ToxiproxyControl, topology: Topology) -> None:
        """A flapper stops after max_steps and restores its links without undo."""
        plan = faults.loss(
            topology, ["n1_n2"], 1.0, seed=3, interval_ms=10, max_steps=3, mode=CutMode.REFUSE
        )
        fault = FlappingFault(plan, control)
        fault.start()
        ended = fault.join(30)

        assert (True, 3, True) == (ended, len(fault.steps), control.proxy("n1_n2").enabled)


class TestHeal:
    def test_stops_a_running_flapper(self, control: ToxiproxyControl, topology: Topology) -> None:
        """heal given a running loss fault stops it before the sweep, leaving all links up."""
        plan = faults.loss(topology, topology.links, 1.0, seed=5, interval_ms=50, max_steps=1000)
        flapper = FlappingFault(plan, control).start()

        injection.heal(control, topology, faults=[flapper])

        cut = {n: (p.enabled, p.toxics) for n, p in control.proxies().items()}
        assert (False, set()) == (
            flapper.active,
            {n for n, state in cut.items() if state != (True, ())},
        )

    def test_restores_everything(self, control: ToxiproxyControl, topology: Topology) -> None:
        """heal undoes active faults and clears stray toxics and disabled proxies."""
        active = [
            StaticFault(faults.partition(topology, [[1, 2], [3]]), control).start(),
            StaticFault(faults.latency(topology, ["client_n1"], 10), control).start(),
        ]
        control.set_enabled("n2_n1", False)
        control.add_toxic("n1_n2", Toxic(type="bandwidth", attributes={"rate": 0}))

        report = injection.heal(control, topology, faults=active)

        names = [spec.name for spec in topology.proxies()]
        assert (("n2_n1",), dict.fromkeys(names, True), [False, False]) == (
            report.enabled,
            _works(topology, names),
            [f.active for f in active],
        )


class TestHistory:
    def test_nemesis_ops_use_the_clock(self, control: ToxiproxyControl, topology: Topology) -> None:
        """start and stop are recorded as nemesis info ops at the injected clock's times."""
        ticks = itertools.count(1000, 1000)
        fault = StaticFault(faults.one_way(topology, 2, 1), control, clock=lambda: next(ticks))

        fault.start()
        fault.undo()

        value = {"mode": "drop", "cut": ["n2->n1"]}
        assert [
            {
                "process": "nemesis",
                "type": "info",
                "f": "start-one-way",
                "value": value,
                "time": 1000,
            },
            {
                "process": "nemesis",
                "type": "info",
                "f": "stop-one-way",
                "value": value,
                "time": 2000,
            },
        ] == fault.history()

    def test_flapper_records_start_before_its_natural_end(
        self, control: ToxiproxyControl, topology: Topology
    ) -> None:
        """A loss fault that ran out logs start-loss, then stop-loss at the time it ended."""
        ticks = itertools.count(1)
        plan = faults.loss(topology, ["n1_n2"], 0.5, seed=9, interval_ms=1, max_steps=2)
        fault = FlappingFault(plan, control, clock=lambda: next(ticks))

        fault.start()
        fault.join(30)
        fault.undo()

        ops = fault.history()
        assert (["start-loss", "stop-loss"], [1, 2]) == (
            [op["f"] for op in ops],
            [op["time"] for op in ops],
        )
