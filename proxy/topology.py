"""Which proxies a cluster of N nodes needs, where they listen and where they forward.

Rules: pure values and arithmetic, no IO. Node ids are positive integers (``n3`` is 3),
as in ``nodes``; this module does not import ``nodes``.

Proxies
    * one per ordered pair of distinct nodes: ``n1_n2`` carries every TCP connection n1
      opens to n2 (n1's requests upstream, n2's replies downstream). n1 is given the
      proxy's address as n2's address, so cutting ``n1_n2`` cuts what n1 sends to n2
      and nothing n2 sends to n1 on its own connections (those cross ``n2_n1``);
    * one per node for clients: ``client_n3`` forwards client traffic to n3.

Ports (deterministic, computable both ways)
    ``port = base_port + stride * src + dst`` where ``src`` is the sending node's id, or 0
    for the client proxies, and ``stride`` is 10 for clusters of up to 9 nodes (100 for
    larger ones): each digit names a node. With the default base 20000 and 5 nodes:
    ``client_n3`` is 20003, ``n1_n2`` 20012, ``n5_n4`` 20054; the whole mesh fits in
    ``base_port + 1 .. base_port + 11 * N - 1`` (a block of 55 ports for 5 nodes).
    ``base_port`` itself is never a proxy: a local cluster puts the Toxiproxy API there.
    ``Topology.proxy_at(port)`` inverts the formula.

Nodes have two listeners (as etcd's 2379/2380): the client listener (Kv, Admin) and the
peer listener (Raft peers only), ``PEER_PORT_OFFSET`` (100) above it. Client proxies
forward to a node's client listener, link proxies to its peer listener.

Placement (where things run)
    * ``local``: nodes and the Toxiproxy server on one machine. Proxies bind
      ``127.0.0.1:PORT``; node i serves clients on ``127.0.0.1:(node_port + i)`` and peers
      on ``127.0.0.1:(node_port + 100 + i)``; nodes and clients reach the proxies at
      ``127.0.0.1:PORT``.
    * ``compose``: docker compose. Proxies bind ``0.0.0.0:PORT`` inside the Toxiproxy
      container; node i is the service ``n{i}`` serving clients on ``node_port`` and peers
      on ``node_port + 100`` in its own container, so upstreams are ``n{i}:node_port`` and
      ``n{i}:(node_port + 100)``; nodes and clients reach the proxies at ``toxiproxy:PORT``
      (the service name). Toxiproxy shows ``0.0.0.0:N`` as ``[::]:N``, so a later POST
      /populate of this config replaces (re-creates) those proxies; give the config to
      ``toxiproxy -config`` at start instead.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from proxy.errors import ProxyError

MAX_NODES = 99
"""The port formula gives each sender a block of 100 ports at most, so ids stop at 99."""

DEFAULT_BASE_PORT = 20000
DEFAULT_NODE_PORT = 7000
PEER_PORT_OFFSET = 100
"""A node's peer listener is this far above its client listener."""
MAX_PORT = 65535


def port_stride(nodes: int) -> int:
    """The proxy port formula's stride: 10 up to 9 nodes (one digit per id), else 100."""
    return 10 if nodes <= 9 else 100


_NAME = re.compile(r"^(?:client|n(?P<src>[1-9][0-9]?))_n(?P<dst>[1-9][0-9]?)$")


class TopologyError(ProxyError, ValueError):
    """The caller asked for a topology, node, link or port that cannot exist."""


def node_name(node: int) -> str:
    """Return a node's name: ``n3`` for 3.

    Args:
        node: a node id, 1 or more.

    Returns:
        The name used in proxy names and compose service names.
    """
    return f"n{node}"


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Link:
    """One direction between two nodes: what ``src`` sends to ``dst``.

    Raises:
        TopologyError: if an id is below 1 or the two ends are the same node.
    """

    src: int
    dst: int

    def __post_init__(self) -> None:
        if self.src < 1 or self.dst < 1:
            msg = f"link {self.src}->{self.dst}: node ids start at 1"
            raise TopologyError(msg)
        if self.src == self.dst:
            msg = f"link {self.src}->{self.dst}: a node has no link to itself"
            raise TopologyError(msg)

    @property
    def proxy(self) -> str:
        """The name of the proxy carrying this direction, e.g. ``n1_n2``."""
        return f"{node_name(self.src)}_{node_name(self.dst)}"

    def reverse(self) -> Link:
        """Return the opposite direction."""
        return Link(src=self.dst, dst=self.src)

    def __str__(self) -> str:
        return f"{node_name(self.src)}->{node_name(self.dst)}"


class Mode(enum.StrEnum):
    """Where the nodes and the Toxiproxy server run."""

    LOCAL = "local"
    """Everything on one machine, on loopback."""
    COMPOSE = "compose"
    """docker compose: one container per node plus one Toxiproxy container."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """Hosts and node ports for one way of running the cluster (see the module docstring).

    Use ``Placement.local()`` or ``Placement.compose()`` rather than the fields directly.
    """

    mode: Mode = Mode.LOCAL
    listen_host: str = "127.0.0.1"
    """The host proxies bind to, as the Toxiproxy server sees it."""
    proxy_host: str = "127.0.0.1"
    """The host nodes and clients use to reach the proxies."""
    node_host: str = "127.0.0.1"
    """``local`` only: the host the node processes listen on."""
    node_port: int = DEFAULT_NODE_PORT
    """``local``: node i serves clients on ``node_port + i``; ``compose``: every node on this
    port. Peer listeners are ``PEER_PORT_OFFSET`` higher."""

    @classmethod
    def local(cls, *, host: str = "127.0.0.1", node_port: int = DEFAULT_NODE_PORT) -> Placement:
        """Everything on one host (loopback by default).

        Args:
            host: where the proxies and the nodes listen.
            node_port: node i listens on ``node_port + i``.

        Returns:
            The placement.
        """
        return cls(
            mode=Mode.LOCAL, listen_host=host, proxy_host=host, node_host=host, node_port=node_port
        )

    @classmethod
    def compose(
        cls, *, proxy_service: str = "toxiproxy", node_port: int = DEFAULT_NODE_PORT
    ) -> Placement:
        """docker compose: proxies in the ``proxy_service`` container, node i in service ``n{i}``.

        Args:
            proxy_service: the compose service name of the Toxiproxy container.
            node_port: the port every node listens on inside its own container.

        Returns:
            The placement.
        """
        return cls(
            mode=Mode.COMPOSE,
            listen_host="0.0.0.0",  # inside the container, on purpose
            proxy_host=proxy_service,
            node_host="",
            node_port=node_port,
        )

    @classmethod
    def for_mode(cls, mode: Mode | str, *, node_port: int = DEFAULT_NODE_PORT) -> Placement:
        """Return the default placement for a mode name (``local`` or ``compose``).

        Raises:
            TopologyError: for an unknown mode.
        """
        try:
            chosen = Mode(mode)
        except ValueError:
            msg = f"unknown mode {mode!r}; expected one of: {', '.join(m.value for m in Mode)}"
            raise TopologyError(msg) from None
        if chosen is Mode.LOCAL:
            return cls.local(node_port=node_port)
        return cls.compose(node_port=node_port)

    def node_address(self, node: int) -> str:
        """Return node ``node``'s client listener (a client proxy's upstream), ``host:port``."""
        if self.mode is Mode.LOCAL:
            return f"{self.node_host}:{self.node_port + node}"
        return f"{node_name(node)}:{self.node_port}"

    def peer_address(self, node: int) -> str:
        """Return node ``node``'s peer listener (a link proxy's upstream), ``host:port``."""
        if self.mode is Mode.LOCAL:
            return f"{self.node_host}:{self.node_port + PEER_PORT_OFFSET + node}"
        return f"{node_name(node)}:{self.node_port + PEER_PORT_OFFSET}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxySpec:
    """One proxy of a topology."""

    name: str
    src: int | None
    """The sending node, or None for a client proxy."""
    dst: int
    """The node the proxy forwards to."""
    port: int
    listen: str
    """The listen address to give Toxiproxy."""
    upstream: str
    """Where Toxiproxy forwards to: the node's client listener (client proxies) or its peer
    listener (link proxies)."""
    address: str
    """Where nodes and clients connect to reach ``dst`` through this proxy."""

    @property
    def link(self) -> Link | None:
        """The directed link this proxy carries, or None for a client proxy."""
        return None if self.src is None else Link(src=self.src, dst=self.dst)

    def to_config(self) -> dict[str, Any]:
        """Return this proxy as one entry of ``toxiproxy -config`` / POST /populate."""
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": True,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    """The proxies of an N-node cluster (see the module docstring for names and ports).

    Raises:
        TopologyError: if ``nodes`` is outside 1..99, the ports leave 1..65535, or (local)
            a node port collides with a proxy port.
    """

    nodes: int
    base_port: int = DEFAULT_BASE_PORT
    placement: Placement = field(default_factory=Placement.local)

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= MAX_NODES:
            msg = f"nodes={self.nodes}: a topology has 1 to {MAX_NODES} nodes"
            raise TopologyError(msg)
        span = self._highest_offset()
        highest = self.base_port + span
        if self.base_port < 0 or highest > MAX_PORT:
            msg = (
                f"base_port={self.base_port}: with {self.nodes} nodes the proxy ports run "
                f"to base_port + {span} = {highest}, beyond {MAX_PORT}"
            )
            raise TopologyError(msg)
        node_low = self.placement.node_port + 1
        node_high = self.placement.node_port + PEER_PORT_OFFSET + self.nodes
        if node_low < 1 or node_high > MAX_PORT:
            msg = (
                f"node_port={self.placement.node_port}: node ports (client and peer) must lie "
                f"in 1..{MAX_PORT}"
            )
            raise TopologyError(msg)
        if self.placement.mode is Mode.LOCAL:
            node_ports = [
                self.placement.node_port + offset + node
                for offset in (0, PEER_PORT_OFFSET)
                for node in self.node_ids
            ]
            clash = [p for p in node_ports if self._is_proxy_port(p) or p == self.base_port]
            if clash:
                taken = (
                    "the base port"
                    if clash[0] == self.base_port
                    else f"the port of proxy {self.proxy_at(clash[0])}"
                )
                msg = (
                    f"node_port={self.placement.node_port}: node port {clash[0]} is also "
                    f"{taken}; move node_port or base_port"
                )
                raise TopologyError(msg)

    @property
    def stride(self) -> int:
        """The port formula's stride (see the module docstring)."""
        return port_stride(self.nodes)

    @property
    def node_ids(self) -> tuple[int, ...]:
        """The node ids, 1..N."""
        return tuple(range(1, self.nodes + 1))

    @property
    def links(self) -> tuple[Link, ...]:
        """Every directed link, ordered by (src, dst)."""
        return tuple(Link(src=s, dst=d) for s in self.node_ids for d in self.node_ids if s != d)

    def check_node(self, node: int) -> int:
        """Return ``node`` if it belongs to this topology.

        Raises:
            TopologyError: if it does not.
        """
        if not 1 <= node <= self.nodes:
            msg = f"node {node} is not in this {self.nodes}-node topology (ids 1..{self.nodes})"
            raise TopologyError(msg)
        return node

    def port(self, name: str) -> int:
        """Return the port of the proxy called ``name``.

        Raises:
            TopologyError: if no proxy of this topology has that name.
        """
        src, dst = self._parse(name)
        return self.base_port + self.stride * (src or 0) + dst

    def proxy_at(self, port: int) -> str:
        """Return the name of the proxy listening on ``port`` (the inverse of ``port``).

        Raises:
            TopologyError: if no proxy of this topology uses that port.
        """
        if not self._is_proxy_port(port):
            msg = f"port {port} belongs to no proxy of this topology"
            raise TopologyError(msg)
        src, dst = divmod(port - self.base_port, self.stride)
        return self._name(src or None, dst)

    def proxy(self, name: str) -> ProxySpec:
        """Return the proxy called ``name``.

        Raises:
            TopologyError: if no proxy of this topology has that name.
        """
        src, dst = self._parse(name)
        port = self.base_port + self.stride * (src or 0) + dst
        placement = self.placement
        upstream = placement.node_address(dst) if src is None else placement.peer_address(dst)
        return ProxySpec(
            name=name,
            src=src,
            dst=dst,
            port=port,
            listen=f"{placement.listen_host}:{port}",
            upstream=upstream,
            address=f"{placement.proxy_host}:{port}",
        )

    def link_proxy(self, link: Link) -> ProxySpec:
        """Return the proxy carrying ``link``."""
        self.check_node(link.src)
        self.check_node(link.dst)
        return self.proxy(link.proxy)

    def client_proxy(self, node: int) -> ProxySpec:
        """Return the proxy clients use to reach ``node``."""
        return self.proxy(self._name(None, self.check_node(node)))

    def proxies(self) -> tuple[ProxySpec, ...]:
        """Every proxy: the client proxies first, then the links by (src, dst)."""
        clients = [self.client_proxy(n) for n in self.node_ids]
        return (*clients, *(self.link_proxy(link) for link in self.links))

    def peer_addresses(self, node: int) -> dict[int, str]:
        """Return what node ``node`` must be told its peers' addresses are.

        Args:
            node: the node being configured.

        Returns:
            Peer id → the address of the proxy for ``node -> peer``.
        """
        self.check_node(node)
        return {
            peer: self.link_proxy(Link(src=node, dst=peer)).address
            for peer in self.node_ids
            if peer != node
        }

    def client_addresses(self) -> dict[int, str]:
        """Return node id → the address clients use to reach it (its client proxy)."""
        return {n: self.client_proxy(n).address for n in self.node_ids}

    def node_address(self, node: int) -> str:
        """Return node ``node``'s own client listener (clients use its client proxy)."""
        return self.placement.node_address(self.check_node(node))

    def peer_listen_address(self, node: int) -> str:
        """Return node ``node``'s own peer listener (peers use the link proxies)."""
        return self.placement.peer_address(self.check_node(node))

    @property
    def span(self) -> range:
        """Every port from ``base_port`` to the highest proxy port (the block to reserve)."""
        return range(self.base_port, self.base_port + self._highest_offset() + 1)

    def _highest_offset(self) -> int:
        # n{N}_n{N-1} is the highest proxy; a 1-node cluster has only client_n1.
        return self.stride * self.nodes + self.nodes - 1 if self.nodes > 1 else 1

    def _is_proxy_port(self, port: int) -> bool:
        src, dst = divmod(port - self.base_port, self.stride)
        return (
            port >= self.base_port
            and 0 <= src <= self.nodes
            and 1 <= dst <= self.nodes
            and src != dst
        )

    def _parse(self, name: str) -> tuple[int | None, int]:
        match = _NAME.match(name)
        if match is None:
            msg = f"proxy name {name!r}: expected nI_nJ or client_nJ"
            raise TopologyError(msg)
        src = int(match["src"]) if match["src"] else None
        dst = int(match["dst"])
        if src == dst or dst > self.nodes or (src is not None and src > self.nodes):
            msg = f"proxy name {name!r}: no such proxy in this {self.nodes}-node topology"
            raise TopologyError(msg)
        return src, dst

    @staticmethod
    def _name(src: int | None, dst: int) -> str:
        return f"client_{node_name(dst)}" if src is None else Link(src=src, dst=dst).proxy


def toxiproxy_config(topology: Topology) -> list[dict[str, Any]]:
    """Return the JSON array ``toxiproxy -config`` and POST /populate accept.

    Args:
        topology: the cluster's topology.

    Returns:
        One ``{"name", "listen", "upstream", "enabled"}`` object per proxy, in
        ``Topology.proxies()`` order.
    """
    return [spec.to_config() for spec in topology.proxies()]
