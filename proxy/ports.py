"""Free ports on this machine: is one free, a few the kernel picks, a whole proxy block.

Rules: the only IO is binding (and at once closing) probe sockets; the answer can be
stale a moment later (another process may take a port), so callers still handle a
bind error. Every port finder of the project is here (the local cluster's layout, the
benchmarks and the tests use these).
"""

from __future__ import annotations

import contextlib
import socket

from proxy.errors import ProxyError
from proxy.topology import Placement, Topology


class NoFreePorts(ProxyError, RuntimeError):
    """Every base port tried had at least one proxy port in use."""


def find_free_base_port(
    nodes: int, *, host: str = "127.0.0.1", start: int = 31000, attempts: int = 40
) -> int:
    """Return a base port such that the whole block of an ``nodes``-node topology is free:
    the base port itself (where a local cluster serves the Toxiproxy API) and every proxy port.

    Args:
        nodes: the cluster size.
        host: the address the proxies will bind.
        start: the first base tried; later tries step by one topology's span.
        attempts: how many bases to try.

    Returns:
        The base port.

    Raises:
        NoFreePorts: if every base tried has a port in use.
        TopologyError: if the ports run past 65535 first.
    """
    step = len(Topology(nodes=nodes, base_port=0, placement=Placement.compose()).span)
    for base in range(start, start + step * attempts, step):
        # Clash with node ports is not the question here, so place nodes out of the way.
        topology = Topology(nodes=nodes, base_port=base, placement=Placement.compose())
        if all(port_free(port, host=host) for port in topology.span):
            return base
    msg = f"no free block of {nodes}-node proxy ports on {host} after {attempts} tries"
    raise NoFreePorts(msg)


def port_free(port: int, *, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be bound on ``host`` right now."""
    with contextlib.closing(socket.socket()) as sock:
        # As Toxiproxy's (Go's) listeners do: ports in TIME_WAIT count as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports the kernel says are free on ``host`` (free a moment ago)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
