"""A shared 3-node cluster (real processes on 127.0.0.1) for the non-destructive tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from experiments.cluster import LocalCluster
from experiments.cluster.testing import running_cluster
from nodes.client import Client


@pytest.fixture(scope="package", name="shared_cluster")
def fixture_shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One 3-node cluster for every test that does not kill, partition or restart nodes."""
    directory: Path = tmp_path_factory.mktemp("shared-cluster")
    with running_cluster(directory) as cluster:
        yield cluster


@pytest.fixture(name="client")
def fixture_client(shared_cluster: LocalCluster) -> Iterator[Client]:
    """A blocking client of the shared cluster (seeded)."""
    with Client(shared_cluster.state().client_addresses, timeout_s=10.0, seed=7) as client:
        yield client
