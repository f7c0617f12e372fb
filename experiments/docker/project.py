"""Run Docker Compose (v2 plugin or v1 ``docker-compose``) on one project.

Rules: the only IO is running the compose command as a subprocess, each call bounded by a
timeout. Which compose exists is probed once per process (``CHAOSLAB_COMPOSE`` overrides
it, e.g. ``CHAOSLAB_COMPOSE=docker-compose``). Compose v1 rejects a top-level ``name:``,
so the project name always goes on the command line (``-p``).
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from experiments.docker.errors import ComposeFailed, ComposeUnavailable

log = structlog.get_logger()

DEFAULT_PROJECT = "chaoslab"
COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
"""The committed compose file, when running from a source checkout."""
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def check_project_name(name: str) -> str:
    """Return ``name`` if Compose accepts it as a project name.

    Raises:
        ValueError: otherwise (lower-case letters, digits, ``-`` and ``_``, starting with a
            letter or digit).
    """
    if not _PROJECT_NAME.match(name):
        msg = (
            f"project name {name!r}: use lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
        raise ValueError(msg)
    return name


@functools.cache
def compose_command() -> tuple[str, ...]:
    """Return the compose command line prefix on this machine.

    Returns:
        ``$CHAOSLAB_COMPOSE`` split into words when set, else ``("docker", "compose")``
        when the v2 plugin answers, else ``("docker-compose",)`` when v1 is installed.

    Raises:
        ComposeUnavailable: when neither exists.
    """
    override = os.environ.get("CHAOSLAB_COMPOSE", "").strip()
    if override:
        return tuple(shlex.split(override))
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"],
            capture_output=True,
            check=False,
            timeout=30,
        )
        if probe.returncode == 0:
            return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    msg = "neither `docker compose` (v2) nor `docker-compose` (v1) is installed"
    raise ComposeUnavailable(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class ComposeProject:
    """One compose project: a name, a compose file and the environment it is run with.

    Attributes:
        name: the project name (containers, network and volumes carry it).
        file: the compose file.
        env: variables added to this process's environment for every command (image
            names, host ports; see the compose file's header).
        command: the compose command prefix (default: probed, see ``compose_command``).
    """

    name: str = DEFAULT_PROJECT
    file: Path = COMPOSE_FILE
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_project_name(self.name)

    def argv(self, *args: str) -> list[str]:
        """Return the full command line for compose ``args`` on this project."""
        prefix = self.command if self.command is not None else compose_command()
        return [*prefix, "--project-name", self.name, "--file", str(self.file), *args]

    def run(self, *args: str, timeout_s: float = 300.0) -> str:
        """Run compose ``args``; return its standard output.

        Raises:
            ComposeFailed: on a non-zero exit or a timeout (with the stderr tail).
        """
        argv = self.argv(*args)
        log.info("docker.compose", argv=argv)
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env={**os.environ, **self.env},
                check=False,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            msg = f"`{shlex.join(argv)}` did not finish within {timeout_s:.0f} s"
            raise ComposeFailed(msg) from exc
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            msg = f"`{shlex.join(argv)}` exited {done.returncode}:\n{tail}"
            raise ComposeFailed(msg)
        return done.stdout

    def up(self, services: Sequence[str] = (), *, timeout_s: float = 300.0) -> None:
        """Create and start the project's containers (detached); images must exist or build.

        Raises:
            ComposeFailed: if compose fails.
        """
        self.run("up", "--detach", *services, timeout_s=timeout_s)

    def down(self, *, volumes: bool = True, timeout_s: float = 120.0) -> None:
        """Stop and remove the containers and the network (and the volumes by default).

        Raises:
            ComposeFailed: if compose fails.
        """
        extra = ["--volumes"] if volumes else []
        self.run("down", "--remove-orphans", "--timeout", "5", *extra, timeout_s=timeout_s)
