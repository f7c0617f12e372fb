"""The compose cluster for the Docker tests: built, started once per session, torn down.

Every test here is marked ``docker``. They run whenever a Docker engine answers and skip,
with the reason, when none does (or compose is missing). The session builds the images
with ``nodes/docker/build-images`` (offline when no registry answers; a no-op when they are
up to date), starts the committed docker-compose.yml under a unique project name with every
host port chosen by Docker, and at the end removes every container, network and volume of
that project.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from experiments.docker import (
    ComposeProject,
    DockerCluster,
    DockerDriverError,
    compose_command,
    docker_client,
)
from experiments.docker.compose import API_PORT_VARIABLE, EMBEDDED_PROXY_IMAGE, client_port_variable

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 1500
LEADER_TIMEOUT_S = 30.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/docker with ``docker``."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session", name="engine")
def fixture_engine() -> Any:
    """A Docker SDK client, or skip the Docker tests saying why."""
    try:
        client = docker_client(timeout_s=10)
        compose_command()
    except DockerDriverError as exc:
        pytest.skip(f"Docker tests need a Docker engine and compose: {exc}")
    return client


@pytest.fixture(scope="session", name="project")
def fixture_project(engine: Any) -> Iterator[ComposeProject]:
    """The cluster's compose project, up for the whole session, removed at the end."""
    build = subprocess.run(
        [str(ROOT / "nodes/docker/build-images")],
        capture_output=True,
        text=True,
        check=False,
        timeout=BUILD_TIMEOUT_S,
    )
    assert build.returncode == 0, f"build-images failed:\n{build.stderr[-3000:]}"
    env = {
        "TOXIPROXY_IMAGE": os.environ.get("CHAOSLAB_TEST_TOXIPROXY_IMAGE", EMBEDDED_PROXY_IMAGE),
        API_PORT_VARIABLE: "",
        "CHAOSLAB_HEALTH_INTERVAL": "30s",  # the tests wait for a leader, not for health
        **{client_port_variable(n): "" for n in range(1, 6)},
    }
    project = ComposeProject(
        name=f"chaoslabtest-{uuid.uuid4().hex[:8]}", file=ROOT / "docker-compose.yml", env=env
    )
    try:
        project.up(timeout_s=300)
        yield project
    finally:
        project.down(volumes=True)
        _assert_removed(engine, project.name)


def _assert_removed(engine: Any, name: str) -> None:
    """Fail the session's teardown if any container, network or volume of ``name`` is left."""
    label = {"label": f"com.docker.compose.project={name}"}
    left = [c.name for c in engine.containers.list(all=True, filters=label)]
    left += [n.name for n in engine.networks.list(filters=label)]
    left += [v.name for v in engine.volumes.list(filters=label)]
    assert [] == left, f"compose down left these behind: {left}"


@pytest.fixture(scope="session", name="cluster")
def fixture_cluster(project: ComposeProject, engine: Any) -> DockerCluster:
    """The driver for the session's cluster, once a leader is elected."""
    cluster = DockerCluster(project.name, client=engine)
    cluster.wait_for_leader(timeout_s=LEADER_TIMEOUT_S)
    return cluster
