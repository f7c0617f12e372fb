"""Where a local cluster's processes listen: one documented, compact port layout.

Rules: arithmetic plus probing ports (bind, then close at once); nothing is started here.

The layout of an N-node cluster with ``--base-port B`` and ``--proxy-base-port P``
(default ``P = B + 200``), all on 127.0.0.1:

=====================  =======================  ===========================
what                   port                     example (B = 7100, N = 3)
=====================  =======================  ===========================
node i, clients        ``B + i``                7101, 7102, 7103
node i, peers          ``B + 100 + i``          7201, 7202, 7203
Toxiproxy API          ``P``                    7300
``client_nI`` proxy    ``P + I``                7301, 7302, 7303
``nI_nJ`` proxy        ``P + 10·I + J``         7312 (n1→n2) ... 7332 (n3→n2)
=====================  =======================  ===========================

(from 10 nodes on the proxies use ``P + 100·I + J``: ``proxy.topology``). Without a
proxy, nodes reach each other's peer listeners directly and clients the client
listeners. A cluster therefore owns ports B+1 .. P + 11·N - 1 (B+1 .. B+254 for 5
nodes); without ``--base-port`` the first block that is wholly free from 7100 up, in
steps of 300, is taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from experiments.cluster.state import ClusterError
from proxy.ports import port_free
from proxy.topology import PEER_PORT_OFFSET, Placement, Topology

DEFAULT_FIRST_BASE = 7100
BASE_STEP = 300
"""How far apart the candidate blocks are when looking for a free one."""
PROXY_OFFSET = 200
"""The default proxy base: this far above the node base."""
HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """The ports of one local cluster (see the module docstring)."""

    nodes: int
    base_port: int
    proxy_base_port: int | None = None
    """None: no proxy."""

    def __post_init__(self) -> None:
        self.topology()  # checks that every port lies in 1..65535 and nothing clashes

    def client_listen(self, node: int) -> str:
        """Node ``node``'s own client listener."""
        return f"{HOST}:{self.base_port + node}"

    def peer_listen(self, node: int) -> str:
        """Node ``node``'s own peer listener."""
        return f"{HOST}:{self.base_port + PEER_PORT_OFFSET + node}"

    @property
    def node_ids(self) -> range:
        """1..N."""
        return range(1, self.nodes + 1)

    def topology(self) -> Topology | None:
        """The proxy topology (None without a proxy).

        Raises:
            ClusterError: the ports do not fit 1..65535 or clash.
        """
        if self.proxy_base_port is None:
            if not 0 < self.base_port + PEER_PORT_OFFSET + self.nodes <= 65535:
                msg = f"--base-port {self.base_port}: node ports would pass 65535"
                raise ClusterError(msg)
            return None
        try:
            return Topology(
                nodes=self.nodes,
                base_port=self.proxy_base_port,
                placement=Placement.local(host=HOST, node_port=self.base_port),
            )
        except ValueError as exc:
            msg = f"--base-port {self.base_port} / --proxy-base-port {self.proxy_base_port}: {exc}"
            raise ClusterError(msg) from None

    def peer_addresses(self, node: int) -> dict[int, str]:
        """Where node ``node`` sends to each peer (a link proxy, or the peer listener)."""
        topology = self.topology()
        if topology is not None:
            return topology.peer_addresses(node)
        return {j: self.peer_listen(j) for j in self.node_ids if j != node}

    def client_addresses(self) -> dict[int, str]:
        """Where clients reach each node (its client proxy, or its client listener)."""
        topology = self.topology()
        if topology is not None:
            return topology.client_addresses()
        return {i: self.client_listen(i) for i in self.node_ids}

    def ports(self, *, with_api: bool = True) -> list[int]:
        """Every port this cluster binds (the API's too unless ``with_api`` is False)."""
        found = [self.base_port + i for i in self.node_ids]
        found += [self.base_port + PEER_PORT_OFFSET + i for i in self.node_ids]
        topology = self.topology()
        if topology is not None:
            found += [spec.port for spec in topology.proxies()]
            if with_api:
                found.append(topology.base_port)
        return found


def busy(ports: Iterable[int]) -> list[int]:
    """The ports of ``ports`` that cannot be bound now."""
    return [port for port in ports if not port_free(port)]


def find_base(
    nodes: int,
    *,
    with_proxy: bool,
    proxy_base_port: int | None = None,
    start: int = DEFAULT_FIRST_BASE,
    attempts: int = 150,
) -> int:
    """The first node base from ``start`` (in steps of ``BASE_STEP``) whose whole layout
    is free (with the default proxy base ``B + 200``, or ``proxy_base_port`` when given).

    Raises:
        ClusterError: none found.
    """
    for base in range(start, start + BASE_STEP * attempts, BASE_STEP):
        proxy_base = None
        if with_proxy:
            proxy_base = proxy_base_port if proxy_base_port is not None else base + PROXY_OFFSET
        try:
            layout = Layout(nodes=nodes, base_port=base, proxy_base_port=proxy_base)
        except ClusterError:
            continue
        if not busy(layout.ports()):
            return base
    msg = f"no free block of ports for {nodes} nodes on {HOST} from {start} ({attempts} tries)"
    raise ClusterError(msg)
