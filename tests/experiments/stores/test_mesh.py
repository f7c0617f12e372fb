"""The proxy mesh for stores whose members dial peers by name (experiments/stores/mesh.py)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from experiments.stores.mesh import link_host, named_peer_topology, peer_host
from proxy.topology import Link, toxiproxy_config


class TestNamedPeerTopology:
    def test_documented_example(self) -> None:
        """n1 reaches n2 through 127.1.2.1 at n2's peer port; clients keep port proxies."""
        mesh = named_peer_topology(3, 41000)
        link = mesh.link_proxy(Link(src=1, dst=2))

        assert (
            "127.1.2.1:41102",
            "127.0.0.1:41102",
            "http://n2.chaoslab.test:41102",
            "127.0.0.1:41201",
            "127.0.0.1:41001",
            41200,
        ) == (
            link.address,
            link.upstream,
            mesh.peer_url(2),
            mesh.client_proxy(1).address,
            mesh.client_proxy(1).upstream,
            mesh.base_port,
        )

    @given(st.integers(min_value=1, max_value=9))
    def test_every_listen_address_is_distinct_loopback(self, nodes: int) -> None:
        """No two proxies share a listen address, and every one of them is on loopback."""
        mesh = named_peer_topology(nodes, 30000)
        listens = [entry["listen"] for entry in toxiproxy_config(mesh)]

        assert len(set(listens)) == len(listens)
        assert all(ipaddress.ip_address(a.rpartition(":")[0]).is_loopback for a in listens)

    @given(st.integers(min_value=2, max_value=9), st.data())
    def test_each_member_resolves_peers_to_its_own_links(
        self, nodes: int, data: st.DataObject
    ) -> None:
        """Member s's hosts file sends every peer d to the proxy n{s}_n{d}, itself to itself."""
        mesh = named_peer_topology(nodes, 30000)
        member = data.draw(st.integers(min_value=1, max_value=nodes))
        table = dict(reversed(line.split("\t")) for line in mesh.hosts_file(member).splitlines())

        for peer in mesh.node_ids:
            wanted = "127.0.0.1" if peer == member else link_host(member, peer)
            assert table[peer_host(peer)] == wanted
            if peer != member:
                proxy = mesh.link_proxy(Link(src=member, dst=peer))
                assert proxy.listen == f"{wanted}:{mesh.peer_port(peer)}"
