"""Talk to a compose cluster from the host: clients that dial published ports, and status.

Rules: client side only (``nodes.client``); no Docker calls here (the caller passes the
host addresses and the address map from ``DockerCluster``).

Why a mapped client: inside the compose network nodes give out their client proxies as
``toxiproxy:2000N`` (NOT_LEADER redirects carry them), a name the host cannot resolve. The
host reaches the same proxies on published ports (``127.0.0.1:P``), so ``HostAsyncClient``
dials the published port whenever it is handed an in-network address. It extends
``AsyncClient`` at one point, the channel factory; nothing else changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import grpc

from experiments.backends.base import agreed_leader as agreed
from experiments.cluster import NodeReport
from nodes.client import AsyncClient, NodeView, Outcome


class HostAsyncClient(AsyncClient):
    """An ``AsyncClient`` that dials ``address_map[address]`` for in-network addresses.

    Args:
        addresses: host addresses of the nodes' client proxies.
        address_map: in-network address (``toxiproxy:20003``) → host address.
        **options: as ``AsyncClient``.
    """

    def __init__(
        self, addresses: Sequence[str], *, address_map: Mapping[str, str], **options: Any
    ) -> None:
        super().__init__(addresses, **options)
        self._address_map = dict(address_map)

    def _channel(self, address: str) -> grpc.aio.Channel:
        return super()._channel(self._address_map.get(address, address))


async def _status(
    addresses: Mapping[int, str], address_map: Mapping[str, str], timeout_s: float
) -> list[NodeReport]:
    client = HostAsyncClient(
        list(addresses.values()), address_map=address_map, attempt_timeout_s=timeout_s
    )
    async with client:
        ids = sorted(addresses)
        outcomes: list[Outcome[NodeView | None]] = await asyncio.gather(
            *(client.status(addresses[node]) for node in ids)
        )
    return [
        NodeReport(id=node, address=addresses[node], view=outcome.value, error=outcome.error)
        for node, outcome in zip(ids, outcomes, strict=True)
    ]


def cluster_status(
    addresses: Mapping[int, str], address_map: Mapping[str, str], *, timeout_s: float = 2.0
) -> list[NodeReport]:
    """Ask every node for its status through its client proxy, all at once.

    Args:
        addresses: node id → host address of its client proxy.
        address_map: in-network address → host address (``DockerCluster.address_map()``).
        timeout_s: the deadline of each status call.

    Returns:
        One report per node, by id; an unreachable node has ``view=None`` and an error.
    """
    return asyncio.run(_status(addresses, address_map, timeout_s))


def agreed_leader(reports: Sequence[NodeReport]) -> int | None:
    """Return the leader a majority of the nodes agree on (same id and term), or None
    (``experiments.backends.base.agreed_leader`` over the reports).

    Args:
        reports: one status report per node of the cluster.
    """
    found = agreed(tuple(r.state() for r in reports), len(reports))
    return None if found is None else found.id
