"""What a benchmark talks to: the system under test, as a cluster and as clients.

Rules: interfaces and value types only (no IO here). A cluster that misbehaves raises the
local clusters' own ``ClusterError`` (re-exported here). ``TargetSpec`` is plain data
so it can be pickled into load-generator processes, which build their own clients
from it with ``experiments.bench.kv.connect.open_pool``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from experiments.cluster.state import ClusterError
from experiments.errors import LabError

System = Literal["chaoslab", "etcd"]
SYSTEMS: tuple[System, ...] = ("chaoslab", "etcd")
ReadMode = Literal["linearizable", "local"]
"""``local``: etcd's serializable Range, chaoslab's (unsafe) stale get."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetSpec:
    """How load generators reach one running cluster.

    Attributes:
        system: which store it is.
        addresses: client ``host:port`` of each member, in member order.
        timeout_s: deadline of one operation.
    """

    system: System
    addresses: tuple[str, ...]
    timeout_s: float = 5.0


class KvClient(Protocol):
    """One logical client of the store (a load-generator worker holds one)."""

    async def put(self, key: str, value: str) -> None:
        """Write ``value``; return when acknowledged.

        Raises:
            OperationFailed: the write was not acknowledged (failed or unknown).
        """

    async def get(self, key: str, mode: ReadMode) -> None:
        """Read ``key`` with the given consistency; return when answered.

        Raises:
            OperationFailed: the read got no answer.
        """


class ClientPool(Protocol):
    """The connections of one load-generator process, shared by its workers."""

    def client(self, worker: int) -> KvClient:
        """The client of worker ``worker`` (workers are spread round-robin over members)."""

    async def close(self) -> None:
        """Close every connection."""


class Cluster(Protocol):
    """A running cluster the benchmark manages (start, kill, restart, stop)."""

    @property
    def system(self) -> System:
        """Which store this is."""

    @property
    def addresses(self) -> tuple[str, ...]:
        """Client addresses, one per member, in member order."""

    def spec(self) -> TargetSpec:
        """How a load generator reaches this cluster."""

    def leader(self) -> int:
        """Index (0-based) of the current leader.

        Raises:
            ClusterError: if no member names a leader.
        """

    def kill(self, member: int) -> None:
        """SIGKILL one member (returns once the signal is sent and reaped)."""

    def restart(self, member: int) -> None:
        """Start a killed member again on its old data."""

    def wait_healthy(self, timeout_s: float) -> None:
        """Return once every member is up, agrees on a leader and a write succeeds.

        Raises:
            ClusterError: if that did not happen within ``timeout_s``.
        """

    def server_pids(self) -> Sequence[int]:
        """Process ids of the members that are running (for CPU accounting)."""

    def stop(self) -> None:
        """Stop every member and remove what the benchmark created."""


class OperationFailed(LabError):
    """One benchmark operation did not succeed (the message says how)."""


__all__ = [
    "SYSTEMS",
    "ClientPool",
    "Cluster",
    "ClusterError",
    "KvClient",
    "OperationFailed",
    "ReadMode",
    "System",
    "TargetSpec",
]
