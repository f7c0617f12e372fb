"""Read published ports and map in-network addresses to host addresses.

Rules: pure functions over the ``NetworkSettings.Ports`` mapping the Docker API returns
(``{"8474/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}], "7000/tcp": None}``);
no IO.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from experiments.docker.errors import NotPublished

PortMap = Mapping[str, Sequence[Mapping[str, Any]] | None]


def host_port(ports: PortMap, container_port: int, *, where: str = "container") -> int:
    """Return the host port that ``container_port``/tcp is published on.

    Args:
        ports: the container's ``NetworkSettings.Ports``.
        container_port: the port inside the container.
        where: names the container in the error message.

    Returns:
        The host port (the first binding when there are several).

    Raises:
        NotPublished: if the port is not published.
    """
    bindings = ports.get(f"{container_port}/tcp") or ()
    for binding in bindings:
        text = str(binding.get("HostPort", ""))
        if text.isdigit():
            return int(text)
    msg = f"{where}: port {container_port}/tcp is not published on the host"
    raise NotPublished(msg)


def published_tcp_ports(ports: PortMap) -> tuple[int, ...]:
    """Return the container ports (tcp) that are published on the host, sorted."""
    found = []
    for key, bindings in ports.items():
        number, _, proto = key.partition("/")
        if proto == "tcp" and bindings and number.isdigit():
            found.append(int(number))
    return tuple(sorted(found))


def host_address_map(
    in_network: Mapping[int, str], ports: PortMap, *, host: str = "127.0.0.1"
) -> dict[str, str]:
    """Map each in-network ``service:port`` address to the host address publishing it.

    Args:
        in_network: node id → the address nodes give out (e.g. ``toxiproxy:20003``).
        ports: the publishing container's ``NetworkSettings.Ports``.
        host: the host address the ports are bound to.

    Returns:
        ``{"toxiproxy:20003": "127.0.0.1:32771", ...}``.

    Raises:
        NotPublished: if an address's port is not published.
    """
    mapped = {}
    for node, address in sorted(in_network.items()):
        _, _, port = address.rpartition(":")
        mapped[address] = f"{host}:{host_port(ports, int(port), where=f'n{node} client proxy')}"
    return mapped
