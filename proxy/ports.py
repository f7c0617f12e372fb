"""Find a base port whose whole block of proxy ports is free on this machine.

Rules: the only IO is binding (and at once closing) probe sockets; the answer can be
stale a moment later (another process may take a port), so callers still handle a
bind error from Toxiproxy.
"""

from __future__ import annotations

import contextlib
import socket

from proxy.topology import Placement, Topology


class NoFreePorts(RuntimeError):
    """Every base port tried had at least one proxy port in use."""


def find_free_base_port(
    nodes: int, *, host: str = "127.0.0.1", start: int = 31000, attempts: int = 40
) -> int:
    """Return a base port such that every proxy port of an ``nodes``-node topology is free.

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
    step = 101 * nodes + 1
    for base in range(start, start + step * attempts, step):
        # Clash with node ports is not the question here, so place nodes out of the way.
        topology = Topology(nodes=nodes, base_port=base, placement=Placement.compose())
        if all(_is_free(host, spec.port) for spec in topology.proxies()):
            return base
    msg = f"no free block of {nodes}-node proxy ports on {host} after {attempts} tries"
    raise NoFreePorts(msg)


def _is_free(host: str, port: int) -> bool:
    with contextlib.closing(socket.socket()) as sock:
        # As Toxiproxy's (Go's) listeners do: ports in TIME_WAIT count as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
