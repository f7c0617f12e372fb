"""The proxy mesh for a store whose members dial their peers by name (etcd and most stores).

Rules: pure values and arithmetic, no IO. chaoslab's own nodes are told a different
address for every peer, so the link proxy ``n1_n2`` can simply be another port. A store
such as etcd keeps one cluster-wide peer URL per member (``http://n2.chaoslab.test:P``)
and every member dials that same URL. So the URL names a host, and each member resolves
the names through a hosts file of its own (bind-mounted over ``/etc/hosts`` in a mount
namespace of its own, see ``experiments.backends.stores``):

* member ``s`` resolves ``n{d}.chaoslab.test`` to ``127.s.d.1``, where the link proxy
  ``n{s}_n{d}`` listens on member ``d``'s peer port ``P`` and forwards to member ``d``'s
  real peer listener ``127.0.0.1:P``;
* member ``s`` resolves its own name to ``127.0.0.1`` (itself, never through a proxy).

Every address stays on loopback (127.0.0.0/8 is all loopback on Linux). Cutting
``n1_n2`` cuts every connection member 1 dials to member 2, in both directions: what
member 1 sends to member 2 for a store that sends only on connections it dialled
(chaoslab's nodes), but not for one that also receives on connections the receiver
dialled (etcd's rafthttp streams), where a one-way cut is not one-way. Ports
follow the local cluster's layout (``experiments.cluster.layout``): clients on
``B + i``, peers on ``B + 100 + i``, the Toxiproxy API on ``B + 200`` and client proxies
just above it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from proxy.topology import PEER_PORT_OFFSET, Placement, ProxySpec, Topology

PEER_DOMAIN: Final = "chaoslab.test"
"""Peer host names live under this reserved test domain (RFC 2606): they never resolve
anywhere but in a member's own hosts file."""
LOOPBACK: Final = "127.0.0.1"


def peer_host(node: int) -> str:
    """The name every member uses for ``node``'s peer listener: ``n2.chaoslab.test``."""
    return f"n{node}.{PEER_DOMAIN}"


def link_host(src: int, dst: int) -> str:
    """The loopback address of the link proxy ``n{src}_n{dst}``: ``127.src.dst.1``."""
    return f"127.{src}.{dst}.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedPeerTopology(Topology):
    """A ``Topology`` whose link proxies listen on per-link loopback addresses at the
    destination's peer port (see the module docstring); client proxies are unchanged."""

    def proxy(self, name: str) -> ProxySpec:
        """The proxy called ``name``; link proxies on ``127.src.dst.1:peer port``."""
        spec = Topology.proxy(self, name)
        if spec.src is None:
            return spec
        port = self.peer_port(spec.dst)
        address = f"{link_host(spec.src, spec.dst)}:{port}"
        return replace(spec, port=port, listen=address, address=address)

    def peer_port(self, node: int) -> int:
        """Member ``node``'s peer port (its real listener is on 127.0.0.1)."""
        return self.placement.node_port + PEER_PORT_OFFSET + self.check_node(node)

    def client_port(self, node: int) -> int:
        """Member ``node``'s client port (its real listener is on 127.0.0.1)."""
        return self.placement.node_port + self.check_node(node)

    def peer_url(self, node: int) -> str:
        """The URL every member dials for ``node``'s peer traffic."""
        return f"http://{peer_host(node)}:{self.peer_port(node)}"

    def hosts_file(self, node: int) -> str:
        """The ``/etc/hosts`` member ``node`` sees: its peers through their link proxies,
        itself directly."""
        self.check_node(node)
        lines = [f"{LOOPBACK}\tlocalhost", f"{LOOPBACK}\t{peer_host(node)}"]
        lines += [
            f"{link_host(node, peer)}\t{peer_host(peer)}" for peer in self.node_ids if peer != node
        ]
        return "\n".join(lines) + "\n"


def named_peer_topology(nodes: int, base_port: int) -> NamedPeerTopology:
    """The mesh of ``nodes`` members on the port block starting at ``base_port``."""
    return NamedPeerTopology(
        nodes=nodes,
        base_port=base_port + 200,
        placement=Placement.local(node_port=base_port),
    )
