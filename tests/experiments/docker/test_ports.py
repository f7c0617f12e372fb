"""Reading published ports from Docker's port map, and mapping in-network addresses."""

from __future__ import annotations

import pytest

from experiments.docker.errors import NotPublished
from experiments.docker.ports import host_address_map, host_port, published_tcp_ports

PORTS = {
    "8474/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32774"}],
    "20001/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32773"}],
    "20002/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32772"}],
    "7000/tcp": None,
}


class TestHostPort:
    def test_published_port(self) -> None:
        """A published container port gives its host port."""
        expected = 32774

        actual = host_port(PORTS, 8474)

        assert expected == actual

    def test_unpublished_port_raises(self) -> None:
        """An exposed but unpublished port is an error naming the container and port."""
        with pytest.raises(NotPublished, match=r"toxiproxy: port 7000/tcp is not published"):
            host_port(PORTS, 7000, where="toxiproxy")


class TestPublishedTcpPorts:
    def test_lists_only_published(self) -> None:
        """Only ports with a host binding are listed, sorted."""
        expected = (8474, 20001, 20002)

        actual = published_tcp_ports(PORTS)

        assert expected == actual


class TestHostAddressMap:
    def test_maps_in_network_addresses(self) -> None:
        """Each node's in-network client address maps to 127.0.0.1 and its host port."""
        expected = {"toxiproxy:20001": "127.0.0.1:32773", "toxiproxy:20002": "127.0.0.1:32772"}

        actual = host_address_map({1: "toxiproxy:20001", 2: "toxiproxy:20002"}, PORTS)

        assert expected == actual
