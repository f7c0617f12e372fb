"""``chaoslab docker ...``: the compose cluster from the host.

Rules: parsing and printing only; compose runs in ``project``, Docker calls in ``driver``,
faults in ``proxy.faults``/``proxy.injection``. Bad input: one line naming the problem,
exit 2; an environment problem (no engine, no cluster, compose failed): one line, exit 1.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from experiments.cluster.table import print_table
from experiments.docker.compose import EMBEDDED_PROXY_IMAGE, ComposeSettings, render_compose
from experiments.docker.driver import DockerCluster
from experiments.docker.errors import DockerDriverError
from experiments.docker.project import COMPOSE_FILE, DEFAULT_PROJECT, ComposeProject
from proxy import faults, injection
from proxy.topology import Topology, TopologyError, toxiproxy_config

F = TypeVar("F", bound=Callable[..., Any])
BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "nodes" / "docker" / "build-images"


def _environment_errors(func: F) -> F:
    """Turn a driver error into one line on stderr and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DockerDriverError, TimeoutError) as exc:
            click.echo(f"chaoslab docker: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _project_option(func: F) -> F:
    return click.option(
        "--project",
        "-p",
        default=None,
        envvar="COMPOSE_PROJECT_NAME",
        help="Compose project name [default: the only chaoslab project running; "
        f"'{DEFAULT_PROJECT}' for up].",
    )(func)


def _file_option(func: F) -> F:
    return click.option(
        "--file",
        "file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=COMPOSE_FILE,
        show_default=True,
        help="The compose file.",
    )(func)


@click.group()
def docker() -> None:
    """The docker-compose cluster: up, status, faults, kill/pause nodes, logs, down."""


@docker.command("compose-file")
@click.option("--nodes", type=click.IntRange(1, 99), default=5, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/docker-compose.yml and DIR/toxiproxy.json (default: print the YAML).",
)
@click.option(
    "--context",
    default=".",
    show_default=True,
    help="The build context (the repository root) relative to the compose file.",
)
def compose_file(nodes: int, out: Path | None, context: str) -> None:
    """Generate the compose file (and the proxies' JSON) for an N-node cluster."""
    config = "./nodes/docker/toxiproxy.json" if out is None else "./toxiproxy.json"
    settings = ComposeSettings(nodes=nodes, context=context, toxiproxy_config=config)
    try:
        text = render_compose(settings)
        topology: Topology = settings.topology()
    except TopologyError as exc:
        raise click.BadParameter(str(exc), param_hint="--nodes") from None
    if out is None:
        click.echo(text, nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "docker-compose.yml").write_text(text, encoding="utf-8")
    proxies = json.dumps(toxiproxy_config(topology), indent=2) + "\n"
    (out / "toxiproxy.json").write_text(proxies, encoding="utf-8")
    click.echo(f"wrote {out / 'docker-compose.yml'} and {out / 'toxiproxy.json'}")


@docker.command("build")
@click.option("--online", "mode", flag_value="--online", help="python:3.11-slim and PyPI.")
@click.option("--offline", "mode", flag_value="--offline", help="Local Debian base + wheels.")
def build(mode: str | None) -> None:
    """Build the images (nodes/docker/build-images; offline when no registry answers)."""
    if not BUILD_SCRIPT.exists():
        click.echo(f"chaoslab docker build: {BUILD_SCRIPT} not found (needs a checkout)", err=True)
        sys.exit(2)
    sys.exit(subprocess.call([str(BUILD_SCRIPT), *([mode] if mode else [])]))


@docker.command("up")
@_project_option
@_file_option
@click.option(
    "--embedded-proxy/--shopify-proxy",
    default=True,
    show_default=True,
    help=f"Toxiproxy image: {EMBEDDED_PROXY_IMAGE} (built locally) or $TOXIPROXY_IMAGE / "
    "Shopify's.",
)
@click.option("--wait", "wait_s", type=float, default=60.0, show_default=True)
@_environment_errors
def up(project: str | None, file: Path, embedded_proxy: bool, wait_s: float) -> None:
    """Start the cluster (images must be built) and wait for a leader."""
    env = {"TOXIPROXY_IMAGE": EMBEDDED_PROXY_IMAGE} if embedded_proxy else {}
    ComposeProject(name=project or DEFAULT_PROJECT, file=file, env=env).up()
    cluster = DockerCluster(project or DEFAULT_PROJECT)
    leader = cluster.wait_for_leader(timeout_s=wait_s)
    print_table(cluster.status())
    click.echo(f"leader: n{leader}; Toxiproxy API: {cluster.toxiproxy_url}")


@docker.command("down")
@_project_option
@_file_option
@click.option("--keep-volumes", is_flag=True, help="Keep the nodes' data volumes.")
@_environment_errors
def down(project: str | None, file: Path, keep_volumes: bool) -> None:
    """Remove the cluster's containers and network (and volumes unless kept)."""
    ComposeProject(name=project or DEFAULT_PROJECT, file=file).down(volumes=not keep_volumes)


@docker.command("status")
@_project_option
@click.option("--json", "as_json", is_flag=True, help="The `cluster status --json` shape.")
@_environment_errors
def status(project: str | None, as_json: bool) -> None:
    """Each node's role, term, leader and indexes, asked through its client proxy."""
    reports = DockerCluster(project).status()
    if as_json:
        click.echo(json.dumps([r.as_json() for r in reports]))
    else:
        print_table(reports)


def _node_command(name: str, doc: str, act: Callable[[DockerCluster, int], None]) -> None:
    @docker.command(name, help=doc)
    @click.argument("node", type=click.IntRange(1, 99))
    @_project_option
    @_environment_errors
    def command(node: int, project: str | None) -> None:
        act(DockerCluster(project), node)


_node_command("kill", "kill -9 node N's container.", lambda c, n: c.kill(n))
_node_command("stop", "Stop node N gracefully (SIGTERM).", lambda c, n: c.stop(n))
_node_command("start", "Start node N's container again.", lambda c, n: c.start(n))
_node_command("pause", "Freeze node N (docker pause).", lambda c, n: c.pause(n))
_node_command("unpause", "Thaw node N.", lambda c, n: c.unpause(n))


@docker.command("logs")
@click.argument("node", type=click.IntRange(1, 99))
@_project_option
@click.option("--tail", type=click.IntRange(min=1), default=None, help="Only the last N lines.")
@_environment_errors
def logs(node: int, project: str | None, tail: int | None) -> None:
    """Print node N's log."""
    click.echo(DockerCluster(project).logs(node, tail=tail), nl=False)


@docker.command("partition")
@click.argument("groups")
@_project_option
@click.option("--mode", type=click.Choice([m.value for m in faults.CutMode]), default="drop")
@_environment_errors
def partition(groups: str, project: str | None, mode: str) -> None:
    """Cut the cluster into GROUPS ("1,2|3,4,5") through Toxiproxy, until `heal`."""
    try:
        parts = [[int(n) for n in part.split(",") if n.strip()] for part in groups.split("|")]
    except ValueError:
        raise click.BadParameter("expected node ids like 1,2|3,4,5", param_hint="GROUPS") from None
    cluster = DockerCluster(project)
    try:
        plan = faults.partition(cluster.topology(), parts, mode=faults.CutMode(mode))
    except faults.FaultError as exc:
        raise click.BadParameter(str(exc), param_hint="GROUPS") from None
    injection.start(plan, cluster.control())
    click.echo(plan.description)


@docker.command("heal")
@_project_option
@_environment_errors
def heal(project: str | None) -> None:
    """Remove every toxic and enable every proxy of the cluster."""
    cluster = DockerCluster(project)
    report = injection.heal(cluster.control(), cluster.topology())
    click.echo(f"healed: {len(report.removed)} toxics removed, {len(report.enabled)} enabled")
