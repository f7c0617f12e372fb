"""The compose cluster for the Docker tests: built, started once per Toxiproxy server, torn down.

Every test here is marked ``docker``. They run whenever a Docker engine answers and skip,
with the reason, when none does (or compose is missing). The session builds the images
with ``nodes/docker/build-images`` (offline when no registry answers; a no-op when they are
up to date), starts the committed docker-compose.yml under a unique project name with every
host port chosen by Docker, and at the end removes every container, network and volume of
that project. Every test runs twice: on the embedded Toxiproxy-compatible image, then on
the real Toxiproxy, an image built offline ``FROM scratch`` from a static
``toxiproxy-server`` binary (``$CHAOSLAB_TOXIPROXY_SERVER``, ``toxiproxy-server`` on PATH, or
``../shared/bin/toxiproxy-server``); without one the real run is skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
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
REAL_IMAGE = "chaoslab/toxiproxy-real:test"
REAL_DOCKERFILE = ROOT / "nodes/docker/toxiproxy-real.Dockerfile"


def real_toxiproxy_binary() -> Path | None:
    """A static toxiproxy-server binary, if this machine has one (see the module docstring)."""
    named = os.environ.get("CHAOSLAB_TOXIPROXY_SERVER")
    candidates = [
        Path(named) if named else None,
        Path(found) if (found := shutil.which("toxiproxy-server")) else None,
        ROOT.parent / "shared/bin/toxiproxy-server",
    ]
    return next((c for c in candidates if c is not None and c.is_file()), None)


def build_real_image(binary: Path) -> str:
    """Build the FROM-scratch image of the real Toxiproxy; return its tag."""
    with tempfile.TemporaryDirectory(prefix="chaoslab-toxiproxy-") as context:
        shutil.copy(binary, Path(context) / "toxiproxy-server")
        built = subprocess.run(
            ["docker", "build", "--quiet", "-f", str(REAL_DOCKERFILE), "-t", REAL_IMAGE, context],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    assert built.returncode == 0, f"building {REAL_IMAGE} failed:\n{built.stderr[-3000:]}"
    return REAL_IMAGE


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/docker with ``docker`` and run them last, in the order
    pytest grouped them: the session's last compose cluster stays up until the session ends,
    and five nodes with their healthchecks must not load the machine under the other tests."""
    here = Path(__file__).parent
    ours = [item for item in items if Path(str(item.fspath)).is_relative_to(here)]
    for item in ours:
        item.add_marker(pytest.mark.docker)
    chosen = set(map(id, ours))
    items[:] = [item for item in items if id(item) not in chosen] + ours


@pytest.fixture(scope="session", name="engine")
def fixture_engine() -> Any:
    """A Docker SDK client, or skip the Docker tests saying why."""
    try:
        client = docker_client(timeout_s=10)
        compose_command()
    except DockerDriverError as exc:
        pytest.skip(f"Docker tests need a Docker engine and compose: {exc}")
    return client


@pytest.fixture(scope="session", name="images")
def fixture_images(engine: Any) -> None:
    """Build the node and embedded proxy images (once per session), unless the caller
    just did (``CHAOSLAB_IMAGES_BUILT=1``: ``.ci/run`` builds them before the suite)."""
    del engine
    if os.environ.get("CHAOSLAB_IMAGES_BUILT") == "1":
        return
    build = subprocess.run(
        [str(ROOT / "nodes/docker/build-images")],
        capture_output=True,
        text=True,
        check=False,
        timeout=BUILD_TIMEOUT_S,
    )
    assert build.returncode == 0, f"build-images failed:\n{build.stderr[-3000:]}"


@pytest.fixture(scope="session", name="project", params=["embedded", "real"])
def fixture_project(
    request: pytest.FixtureRequest, engine: Any, images: None
) -> Iterator[ComposeProject]:
    """The cluster's compose project on one Toxiproxy server, up for every test of that
    server, removed at the end."""
    del images
    if request.param == "real":
        binary = real_toxiproxy_binary()
        if binary is None:
            pytest.skip(
                "no real Toxiproxy binary: set CHAOSLAB_TOXIPROXY_SERVER, put toxiproxy-server "
                "on PATH, or provide ../shared/bin/toxiproxy-server"
            )
        image = build_real_image(binary)
    else:
        image = os.environ.get("CHAOSLAB_TEST_TOXIPROXY_IMAGE", EMBEDDED_PROXY_IMAGE)
    env = {
        "TOXIPROXY_IMAGE": image,
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
