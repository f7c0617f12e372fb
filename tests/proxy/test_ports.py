"""proxy.ports: choosing a base port whose proxy ports are all free."""

from __future__ import annotations

import socket

import pytest

from proxy.ports import NoFreePorts, find_free_base_port
from proxy.topology import Topology


class TestFindFreeBasePort:
    def test_every_port_bindable(self) -> None:
        """Every proxy port of the chosen block can be bound right after the call."""
        base = find_free_base_port(3)

        bound = 0
        for spec in Topology(nodes=3, base_port=base).proxies():
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", spec.port))
                bound += 1
        assert 9 == bound

    def test_skips_a_taken_block(self) -> None:
        """When a port of the first block is in use, a later block without it is chosen."""
        first = find_free_base_port(2)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", first + 12))
            taken.listen(1)

            again = find_free_base_port(2, start=first)

        step = len(Topology(nodes=2).span)
        assert (True, 0, 22) == (again > first, (again - first) % step, step)

    def test_the_base_port_counts(self) -> None:
        """The base port itself (a local cluster's API port) must be free too."""
        first = find_free_base_port(2)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", first))
            taken.listen(1)

            again = find_free_base_port(2, start=first)

        assert again != first

    def test_gives_up(self) -> None:
        """With a single try on a taken block it says so."""
        first = find_free_base_port(1)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", first + 1))
            taken.listen(1)

            with pytest.raises(NoFreePorts, match="after 1 tries"):
                find_free_base_port(1, start=first, attempts=1)
