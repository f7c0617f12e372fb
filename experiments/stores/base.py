"""The store adapter API: what chaoslab must know of a replicated key-value store to judge
it with the same experiments, nemeses, checkers, reports and CAP scorecard.

Rules: types and protocols only, no IO. A store is judged through the backend seam
(``experiments.backends.base.Cluster``): a ``ProcessStore`` is a store whose members run
as processes with their peer traffic through the proxy mesh, and the generic
``experiments.backends.stores`` backend turns any of them into a ``Cluster``. chaoslab's
own node is one (``experiments.stores.chaoslab``); ``store: chaoslab``, the default, still
runs on the dedicated ``local`` and ``docker`` backends, which add what only a chaoslab
node can do (in-node clock and disk faults, seeded bugs, compose). A process store says

* how to start member ``i`` (``member``): its command line, given its ports, the
  cluster's peer URLs (through the per-link proxies, ``experiments.stores.mesh``), its
  data directory and the run's timing;
* how to ask a member for its role, term and leader (``status``);
* a recorded client (``client``) mapping read / write / cas onto the store's own API,
  classifying every answer honestly: ``ok`` took effect, ``fail`` certainly did not,
  ``info`` may have (the vocabulary of ``nodes.client.policy``);
* what it cannot run (``refusals``): a fault, a consistency mode, a backend.

Kill, pause, restart, network faults, probes and logs are the backend's: every process
store gets them for free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from experiments.backends.base import ClientSettings, NodeId, NodeState, OpClient
from experiments.schedule import NemesisKind

if TYPE_CHECKING:
    from experiments.stores.mesh import NamedPeerTopology


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreTiming:
    """The run's Raft timing (the experiment's ``cluster.timing``)."""

    tick_ms: int
    election_ticks: int
    heartbeat_ticks: int

    @property
    def heartbeat_ms(self) -> int:
        """The heartbeat interval in milliseconds."""
        return self.tick_ms * self.heartbeat_ticks

    @property
    def election_ms(self) -> int:
        """The (base) election timeout in milliseconds."""
        return self.tick_ms * self.election_ticks


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberPlan:
    """Everything a process store needs to start member ``node``."""

    node: NodeId
    mesh: NamedPeerTopology
    """Ports, peer URLs and the per-link proxies of the whole cluster."""
    data_dir: Path
    """The member's own data directory (kept across restarts)."""
    cluster_dir: Path
    """The cluster's directory: files every member shares (a peer secret) go here."""
    timing: StoreTiming
    consistency: str
    cluster_token: str
    """Unique per run: a member of another run can never join this cluster."""

    @property
    def client_listen(self) -> str:
        """Where the member must serve clients (``127.0.0.1:PORT``)."""
        return f"127.0.0.1:{self.mesh.client_port(self.node)}"

    @property
    def peer_listen(self) -> str:
        """Where the member must accept its peers (``127.0.0.1:PORT``)."""
        return f"127.0.0.1:{self.mesh.peer_port(self.node)}"

    def peer_urls(self) -> dict[NodeId, str]:
        """Every member's peer URL (this one's too), as every member dials it."""
        return {node: self.mesh.peer_url(node) for node in self.mesh.node_ids}


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberCommand:
    """How to start one member."""

    argv: list[str]
    env: Mapping[str, str] | None = None
    """Extra environment variables (added to this process's own)."""


class ProcessStore(Protocol):
    """A store run as member processes behind the proxy mesh (see the module docstring)."""

    name: str
    consistency_modes: Mapping[str, str]
    """The experiment's ``cluster.consistency`` values this store offers → what each means
    for it (``cp`` → linearizable reads, ...); other modes are refused."""

    def prepare(self) -> None:
        """Make sure the store can run here (find or install its binary).

        Raises:
            BackendFailure: it cannot; the message says how to fix it.
        """

    def member(self, plan: MemberPlan) -> MemberCommand:
        """The command line of one member."""

    def status(self, addresses: Mapping[NodeId, str], timeout_s: float) -> list[NodeState]:
        """Every member's role, term and leader, asked at its own client address
        (``unreachable`` when it does not answer within ``timeout_s``)."""

    def client(
        self, addresses: Mapping[NodeId, str], settings: ClientSettings, consistency: str
    ) -> OpClient:
        """A recorded client; ``addresses`` are the client proxies (node id → address)."""

    def close(self) -> None:
        """Release what ``status`` keeps open (channels)."""


PROCESS_STORE_METHODS: tuple[str, ...] = ("prepare", "member", "status", "client", "close")
"""What a process store must define (checked when it is loaded)."""
PROCESS_STORE_ATTRIBUTES: tuple[str, ...] = ("name", "consistency_modes")


def fault_refusals(store: str, kinds: Iterable[NemesisKind]) -> list[str]:
    """The faults no process store can take, one reason each: those only the simulator
    can aim, and in-node clock and disk faults (they need chaoslab's failpoints)."""
    problems = []
    for kind in sorted(kinds, key=lambda k: k.value):
        if kind.simulator_only:
            problems.append(
                f"nemesis {kind.value}: only the simulator can aim a fault at a protocol "
                f"moment; the {store} store runs for real"
            )
        elif kind.in_node:
            problems.append(
                f"nemesis {kind.value}: an in-node fault needs chaoslab's failpoints; the "
                f"{store} store has none"
            )
    return problems


def missing_members(adapter: Any) -> list[str]:
    """The methods and attributes a process store adapter lacks (empty: complete)."""
    missing = [name for name in PROCESS_STORE_ATTRIBUTES if not hasattr(adapter, name)]
    missing += [
        f"{name}()" for name in PROCESS_STORE_METHODS if not callable(getattr(adapter, name, None))
    ]
    return missing
