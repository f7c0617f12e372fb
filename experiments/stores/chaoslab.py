"""chaoslab's own node as a process store: the first implementation of the adapter API.

Rules: the same node, client and status calls as the ``local`` backend
(``nodes.client`` through ``experiments.backends.real``), started the way any store is:
peers dialled by name through the mesh (``experiments.stores.mesh``). ``store:
chaoslab`` runs on the dedicated ``local`` / ``docker`` backends; naming this adapter by
its import path (``store: experiments.stores.chaoslab:ChaoslabStore``) runs the same
node through the generic store backend instead, which is how the adapter seam itself is
tested, and the model for writing an adapter of your own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from experiments.backends.base import ClientSettings, NodeId, NodeState
from experiments.backends.real import RealClient, StatusProbe
from experiments.cluster import processes
from experiments.cluster.local import SECRET_FILE, write_secret
from experiments.stores.base import MemberCommand, MemberPlan
from experiments.stores.mesh import peer_host

CONSISTENCY_MODES: Final = {
    "cp": "linearizable (ReadIndex reads, writes through the leader)",
    "lease": "UNSAFE under clock faults: leader-lease reads",
    "stale": "UNSAFE: every replica reads locally",
    "ap": "UNSAFE: every replica writes locally, last-writer-wins, anti-entropy",
}


class ChaoslabStore:
    """chaoslab's node as a ``ProcessStore`` (see the module docstring)."""

    name = "chaoslab"
    consistency_modes: Mapping[str, str] = CONSISTENCY_MODES

    def __init__(self) -> None:
        self._probe: StatusProbe | None = None

    def prepare(self) -> None:
        """Nothing to install: the node is this package."""

    def member(self, plan: MemberPlan) -> MemberCommand:
        """``chaoslab node`` with its peers by name and clients told the client proxies."""
        mesh = plan.mesh
        node = plan.node
        peers = ",".join(
            f"{peer}={peer_host(peer)}:{mesh.peer_port(peer)}"
            for peer in mesh.node_ids
            if peer != node
        )
        clients = ",".join(f"{n}={a}" for n, a in sorted(mesh.client_addresses().items()))
        args = [
            "--log-format",
            "json",
            "node",
            "--id",
            str(node),
            "--listen",
            plan.client_listen,
            "--peer-listen",
            plan.peer_listen,
            "--client-addresses",
            clients,
            "--cluster-id",
            plan.cluster_token,
            "--tick-ms",
            str(plan.timing.tick_ms),
            "--election-tick",
            str(plan.timing.election_ticks),
            "--heartbeat-tick",
            str(plan.timing.heartbeat_ticks),
            "--forward-writes",
            "--consistency",
            plan.consistency,
            "--data-dir",
            str(plan.data_dir),
        ]
        if peers:
            secret = plan.cluster_dir / SECRET_FILE
            write_secret(secret)  # once per cluster: it keeps an existing one
            args += ["--peers", peers, "--peer-secret-file", str(secret)]
        return MemberCommand(argv=processes.chaoslab_argv(*args))

    def status(self, addresses: Mapping[NodeId, str], timeout_s: float) -> list[NodeState]:
        """Each node's admin status at its own client listener."""
        if self._probe is None or self._probe.addresses != dict(addresses):
            self.close()
            self._probe = StatusProbe(addresses, timeout_s=timeout_s)
        return self._probe.read()

    def client(
        self, addresses: Mapping[NodeId, str], settings: ClientSettings, consistency: str
    ) -> RealClient:
        """The recorded client the ``local`` backend uses."""
        del consistency  # the node serves its own mode
        return RealClient(addresses, settings)

    def close(self) -> None:
        """Stop the status probe."""
        if self._probe is not None:
            self._probe.close()
            self._probe = None
