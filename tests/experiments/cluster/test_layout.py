"""The local cluster's port layout (experiments/cluster/layout.py)."""

from __future__ import annotations

import socket

import pytest

from experiments.cluster.layout import Layout, busy, find_base
from experiments.cluster.state import ClusterError


class TestLayout:
    def test_documented_example(self) -> None:
        """The module docstring's table holds for B = 7100, N = 3, proxied."""
        layout = Layout(nodes=3, base_port=7100, proxy_base_port=7300)
        topology = layout.topology()
        assert topology is not None

        assert (
            ["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"],
            ["127.0.0.1:7201", "127.0.0.1:7202", "127.0.0.1:7203"],
            {1: "127.0.0.1:7301", 2: "127.0.0.1:7302", 3: "127.0.0.1:7303"},
            {2: "127.0.0.1:7312", 3: "127.0.0.1:7313"},
            "127.0.0.1:7202",
        ) == (
            [layout.client_listen(i) for i in (1, 2, 3)],
            [layout.peer_listen(i) for i in (1, 2, 3)],
            layout.client_addresses(),
            layout.peer_addresses(1),
            topology.link_proxy(topology.links[0]).upstream,
        )

    def test_without_proxy_peers_are_direct(self) -> None:
        """Without a proxy, peers dial each other's peer listeners and clients the client ones."""
        layout = Layout(nodes=3, base_port=7100)

        assert ({2: "127.0.0.1:7202", 3: "127.0.0.1:7203"}, "127.0.0.1:7101") == (
            layout.peer_addresses(1),
            layout.client_addresses()[1],
        )

    def test_five_nodes_own_a_compact_block(self) -> None:
        """A proxied 5-node cluster binds 10 node ports, the API and 25 proxies, all within
        B+1 .. B+254."""
        ports = Layout(nodes=5, base_port=7100, proxy_base_port=7300).ports()

        assert (36, 7101, 7354) == (len(set(ports)), min(ports), max(ports))

    @pytest.mark.parametrize(
        ("kwargs", "fragment"),
        [
            ({"nodes": 3, "base_port": 65450}, "pass 65535"),
            ({"nodes": 3, "base_port": 7100, "proxy_base_port": 7190}, "node port 7202"),
        ],
    )
    def test_impossible_layouts(self, kwargs: dict[str, int], fragment: str) -> None:
        """Ports past 65535 or proxies on node ports are refused, naming the options."""
        with pytest.raises(ClusterError, match=fragment):
            Layout(**kwargs)


class TestFindBase:
    def test_skips_a_block_with_a_taken_port(self) -> None:
        """A block whose proxy API port is taken is skipped for the next free one."""
        with socket.socket() as holder:
            # The kernel picks the held port, so nothing else can own it between the
            # choice and the bind; the block whose proxy API it is starts 200 below.
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            held = holder.getsockname()[1]
            again = find_base(3, with_proxy=True, start=held - 200)
            taken = busy([held])

        assert (True, [held]) == (again > held - 200, taken)
