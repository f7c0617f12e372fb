"""Errors of the Docker driver, each saying whose fault it is and what to do.

Rules: exception types only, no IO.
"""

from __future__ import annotations

from experiments.errors import BackendFailure


class DockerDriverError(BackendFailure):
    """Something the Docker backend needs is missing or failed."""


class DockerUnavailable(DockerDriverError):
    """No Docker engine answers (the environment's fault: start Docker or fix DOCKER_HOST)."""


class ComposeUnavailable(DockerDriverError):
    """Neither ``docker compose`` (v2) nor ``docker-compose`` (v1) is installed."""


class ComposeFailed(DockerDriverError):
    """A compose command exited non-zero; the message carries its command line and stderr."""


class ClusterNotFound(DockerDriverError):
    """No compose cluster (or not exactly one) matches what the caller asked for."""


class NodeNotFound(DockerDriverError):
    """The cluster has no container for the node the caller named."""


class NotPublished(DockerDriverError):
    """A container port the driver needs is not published on the host (the compose file's)."""
