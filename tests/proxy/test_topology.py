"""proxy.topology: proxy names, ports both ways, peer and client addresses, the config array."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.topology import (
    Link,
    Mode,
    Placement,
    Topology,
    TopologyError,
    toxiproxy_config,
)

sizes = st.integers(min_value=1, max_value=20)


class TestLink:
    def test_proxy_name_and_reverse(self) -> None:
        """A link names its proxy sender first, and reversing swaps the ends."""
        link = Link(src=1, dst=2)

        assert ("n1_n2", Link(src=2, dst=1), "n1->n2") == (link.proxy, link.reverse(), str(link))

    @pytest.mark.parametrize(("src", "dst"), [(1, 1), (0, 2), (2, -1)])
    def test_rejects_self_and_bad_ids(self, src: int, dst: int) -> None:
        """A link to itself or with an id below 1 cannot exist."""
        with pytest.raises(TopologyError, match=f"link {src}->{dst}"):
            Link(src=src, dst=dst)


class TestTopology:
    def test_documented_ports(self) -> None:
        """The module docstring's examples hold: client_n3 20003, n1_n2 20012, n5_n4 20054."""
        topology = Topology(nodes=5)

        expected = [20003, 20012, 20054]
        assert expected == [topology.port(n) for n in ("client_n3", "n1_n2", "n5_n4")]

    def test_compact_block(self) -> None:
        """Five nodes use a block of 55 ports, from the base (the API's) to base + 54."""
        topology = Topology(nodes=5, base_port=21000)

        assert (range(21000, 21055), 21054) == (
            topology.span,
            max(p.port for p in topology.proxies()),
        )

    def test_large_clusters_use_stride_100(self) -> None:
        """From 10 nodes on, each sender has 100 ports: n10_n2 is base + 1002."""
        topology = Topology(nodes=12, base_port=20000, placement=Placement.compose())

        assert 21002 == topology.port("n10_n2")

    def test_proxy_count(self) -> None:
        """N nodes have N client proxies and N(N-1) link proxies."""
        topology = Topology(nodes=5)

        names = [p.name for p in topology.proxies()]
        assert (25, 25) == (len(names), len(set(names)))

    @settings(max_examples=60, deadline=None)
    @given(nodes=sizes, base=st.integers(min_value=0, max_value=40000))
    def test_name_port_roundtrip(self, nodes: int, base: int) -> None:
        """Every proxy's port maps back to its name, and ports are distinct."""
        topology = Topology(nodes=nodes, base_port=base, placement=Placement.local(node_port=60000))

        names = [p.name for p in topology.proxies()]
        ports = [topology.port(n) for n in names]
        assert (names, len(names)) == ([topology.proxy_at(p) for p in ports], len(set(ports)))

    @settings(max_examples=40, deadline=None)
    @given(nodes=sizes, port=st.integers(min_value=0, max_value=65535))
    def test_proxy_at_rejects_or_roundtrips(self, nodes: int, port: int) -> None:
        """Any port is either no proxy's (an error) or the port of the name it maps to."""
        topology = Topology(nodes=nodes, placement=Placement.local(node_port=60000))

        try:
            name = topology.proxy_at(port)
        except TopologyError:
            return
        assert port == topology.port(name)

    @settings(max_examples=30, deadline=None)
    @given(nodes=st.integers(min_value=2, max_value=12))
    def test_peer_addresses_point_at_directed_proxies(self, nodes: int) -> None:
        """Node i is told peer j lives at the address of proxy ni_nj, never at j itself."""
        topology = Topology(nodes=nodes)

        for i in topology.node_ids:
            expected = {
                j: f"127.0.0.1:{topology.port(f'n{i}_n{j}')}" for j in topology.node_ids if j != i
            }
            assert expected == topology.peer_addresses(i)

    def test_upstreams_local(self) -> None:
        """Locally, client_n2 forwards to n2's client listener (node_port + 2) and every link
        proxy toward n2 to its peer listener (node_port + 102)."""
        topology = Topology(nodes=3, placement=Placement.local(node_port=9000))

        upstreams = {p.name: p.upstream for p in topology.proxies() if p.dst == 2}
        assert {
            "client_n2": "127.0.0.1:9002",
            "n1_n2": "127.0.0.1:9102",
            "n3_n2": "127.0.0.1:9102",
        } == upstreams

    def test_compose_placement(self) -> None:
        """In compose, proxies bind 0.0.0.0, forward to nJ's peer port (link proxies) or
        client port (client proxies) and are reached at toxiproxy."""
        topology = Topology(nodes=3, placement=Placement.compose(node_port=7000))

        link = topology.link_proxy(Link(src=1, dst=3))
        client = topology.client_proxy(3)
        assert (
            ("0.0.0.0:20013", "n3:7100", "toxiproxy:20013"),
            ("0.0.0.0:20003", "n3:7000", "toxiproxy:20003"),
        ) == (
            (link.listen, link.upstream, link.address),
            (client.listen, client.upstream, client.address),
        )

    def test_client_addresses(self) -> None:
        """Clients reach node i through client_ni."""
        topology = Topology(nodes=2, base_port=30000)

        assert {1: "127.0.0.1:30001", 2: "127.0.0.1:30002"} == topology.client_addresses()

    @pytest.mark.parametrize(
        ("kwargs", "fragment"),
        [
            ({"nodes": 0}, "1 to 99 nodes"),
            ({"nodes": 100}, "1 to 99 nodes"),
            ({"nodes": 5, "base_port": 65500}, "beyond 65535"),
            ({"nodes": 3, "base_port": 7000}, "node port 7001 is also the port of proxy client_n1"),
            ({"nodes": 3, "base_port": 7090}, "node port 7102 is also the port of proxy n1_n2"),
            ({"nodes": 3, "base_port": 7001}, "node port 7001 is also the base port"),
        ],
    )
    def test_rejects_impossible(self, kwargs: dict[str, int], fragment: str) -> None:
        """Sizes, ports past 65535 and node ports (client or peer) that clash with proxies
        or the base port are refused."""
        with pytest.raises(TopologyError, match=fragment):
            Topology(**kwargs)  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", ["n1_n1", "n4_n1", "client_n4", "x_n1", "n1-n2", "client_n0"])
    def test_unknown_names(self, name: str) -> None:
        """Names outside a 3-node topology are errors that quote the name."""
        with pytest.raises(TopologyError, match=name):
            Topology(nodes=3).port(name)

    def test_unknown_mode(self) -> None:
        """A mode that is neither local nor compose is refused, listing both."""
        with pytest.raises(TopologyError, match="local, compose"):
            Placement.for_mode("k8s")

    def test_mode_names(self) -> None:
        """Placement.for_mode picks the placement of that mode."""
        assert [Mode.LOCAL, Mode.COMPOSE] == [
            Placement.for_mode(m).mode for m in ("local", "compose")
        ]


class TestToxiproxyConfig:
    def test_entries(self) -> None:
        """The config has one enabled entry per proxy with exactly the populate keys."""
        topology = Topology(nodes=2)

        expected = [
            {
                "name": "client_n1",
                "listen": "127.0.0.1:20001",
                "upstream": "127.0.0.1:7001",
                "enabled": True,
            },
            {
                "name": "client_n2",
                "listen": "127.0.0.1:20002",
                "upstream": "127.0.0.1:7002",
                "enabled": True,
            },
            {
                "name": "n1_n2",
                "listen": "127.0.0.1:20012",
                "upstream": "127.0.0.1:7102",
                "enabled": True,
            },
            {
                "name": "n2_n1",
                "listen": "127.0.0.1:20021",
                "upstream": "127.0.0.1:7101",
                "enabled": True,
            },
        ]
        assert expected == toxiproxy_config(topology)
