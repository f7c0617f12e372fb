"""Local process management: a cluster of node processes on loopback, recorded on disk.

Rules: this facade only re-exports. Processes are managed by pid through the
record in ``DATA_DIR/cluster.json``; every wait is bounded.
"""

from experiments.cluster.local import LocalCluster, NodeReport, UpOptions
from experiments.cluster.state import ClusterError, ClusterState, NoCluster, load_state

__all__ = [
    "ClusterError",
    "ClusterState",
    "LocalCluster",
    "NoCluster",
    "NodeReport",
    "UpOptions",
    "load_state",
]
