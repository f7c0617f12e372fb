"""The Docker backend: the compose file, compose commands, and a driver for the cluster.

Rules: this facade only re-exports. ``compose`` and ``ports`` are pure; ``project`` runs
compose; ``driver`` talks to the Docker API; ``client`` talks to the nodes from the host.
"""

from experiments.docker.client import HostAsyncClient, agreed_leader, cluster_status
from experiments.docker.compose import ComposeSettings, compose_document, render_compose
from experiments.docker.driver import DockerCluster, docker_client, find_projects
from experiments.docker.errors import (
    ClusterNotFound,
    ComposeFailed,
    ComposeUnavailable,
    DockerDriverError,
    DockerUnavailable,
    NodeNotFound,
    NotPublished,
)
from experiments.docker.project import ComposeProject, compose_command

__all__ = [
    "ClusterNotFound",
    "ComposeFailed",
    "ComposeProject",
    "ComposeSettings",
    "ComposeUnavailable",
    "DockerCluster",
    "DockerDriverError",
    "DockerUnavailable",
    "HostAsyncClient",
    "NodeNotFound",
    "NotPublished",
    "agreed_leader",
    "cluster_status",
    "compose_command",
    "compose_document",
    "docker_client",
    "find_projects",
    "render_compose",
]
