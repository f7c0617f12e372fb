"""The Toxiproxy server a local cluster's links cross: the embedded one (default), a real
``toxiproxy-server`` binary started here, or one already running at a URL.

Rules: each kind is created with the topology's proxies (``-config`` at start for the
two started here, POST /populate for an external one) and is ready only once every
proxy exists; every wait is bounded. An external server must be on this machine
(the proxies listen on 127.0.0.1); ``down`` deletes the proxies made there and leaves
the server running. Processes go through ``processes`` (recorded, by pid).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import structlog

from experiments.cluster import processes
from experiments.cluster.state import ClusterError, ClusterState, ProxyEntry, ProxyKind
from proxy.control import ProxyApiError, ProxyNotFound, ToxiproxyControl
from proxy.ports import port_free
from proxy.topology import Topology, toxiproxy_config

_log = structlog.get_logger()

READY_WAIT_S = 15.0
CONFIG_FILE = "proxy.json"
LOG_FILE = "proxy.log"


def check_local_url(url: str) -> str:
    """Return ``url`` (without a trailing slash) if it is an http URL on this machine.

    Raises:
        ClusterError: another scheme, or a host that is not loopback.
    """
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if parsed.scheme != "http" or not loopback or parsed.port is None:
        msg = (
            f"--toxiproxy-url {url!r}: expected http://127.0.0.1:PORT (the cluster's proxies "
            "listen on this machine's loopback, so the server must run here)"
        )
        raise ClusterError(msg)
    return url.rstrip("/")


def plan_entry(
    directory: Path,
    topology: Topology,
    *,
    server: Path | str | None = None,
    url: str | None = None,
) -> ProxyEntry:
    """The record of the cluster's proxy server; writes its config file.

    Args:
        directory: the cluster's directory (config and log go there).
        topology: the proxies; the API listens on its base port (unless ``url``).
        server: a ``toxiproxy-server`` binary to start instead of the embedded server.
        url: an already running server to use instead of starting one.

    Raises:
        ClusterError: the binary is missing or the URL is not local.
    """
    config = directory / CONFIG_FILE
    config.write_text(json.dumps(toxiproxy_config(topology), indent=2) + "\n")
    api = topology.base_port
    log = str(directory / LOG_FILE)
    ports = {"base_port": topology.base_port, "node_port": topology.placement.node_port}
    if url is not None:
        checked = check_local_url(url)
        port = urllib.parse.urlsplit(checked).port or api
        return ProxyEntry(argv=[], log=log, kind="external", url=checked, api_port=port, **ports)
    if server is not None:
        binary = Path(server).expanduser().resolve()
        if not binary.is_file():
            msg = f"--toxiproxy-server {server}: no such file"
            raise ClusterError(msg)
        argv = [str(binary), "-host", "127.0.0.1", "-port", str(api), "-config", str(config)]
        kind: ProxyKind = "server"
    else:
        argv = processes.chaoslab_argv(
            "--log-format", "json", "proxy", "serve", "--port", str(api), "--config", str(config)
        )
        kind = "embedded"
    return ProxyEntry(
        argv=argv, log=log, kind=kind, url=f"http://127.0.0.1:{api}", api_port=api, **ports
    )


def _same_address(found: str, wanted: str) -> bool:
    """Whether two ``host:port`` upstreams are the same (``localhost`` is 127.0.0.1)."""
    def norm(address: str) -> str:
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        return f"{'127.0.0.1' if host in ('localhost', '') else host}:{port}"

    return norm(found) == norm(wanted)


def control_of(entry: ProxyEntry, *, timeout_s: float = 5.0) -> ToxiproxyControl:
    """A control client of the cluster's proxy server."""
    return ToxiproxyControl(entry.url or f"http://127.0.0.1:{entry.api_port}", timeout_s=timeout_s)


def start(state: ClusterState, topology: Topology, save: Callable[[], None]) -> None:
    """Start (or reach) the proxy server and wait until every proxy exists.

    Args:
        state: the record (its ``proxy`` entry gets the pid).
        topology: the proxies.
        save: called after the pid is recorded (persists the record).

    Raises:
        ClusterError: it did not come up, or an external server refused the proxies.
    """
    entry = state.proxy
    assert entry is not None
    control = control_of(entry, timeout_s=1.0)
    if entry.kind == "external":
        try:
            control.populate(toxiproxy_config(topology))
        except (ProxyApiError, OSError) as exc:
            msg = f"the Toxiproxy at {entry.url} refused the cluster's proxies: {exc}"
            raise ClusterError(msg) from None
    elif not processes.is_running(entry.pid, entry.argv):
        if not port_free(entry.api_port):
            msg = (
                f"port {entry.api_port} (the Toxiproxy API) is already taken on 127.0.0.1: "
                "another cluster or program uses it; choose another --proxy-base-port"
            )
            raise ClusterError(msg)
        entry.pid = processes.spawn(entry.argv, Path(entry.log))
        save()
    # Ready when every proxy exists *with this cluster's upstreams*: a server that lost the
    # race for its port would otherwise find another cluster's server answering there,
    # with proxies of the same names, and the run would talk to the wrong cluster.
    wanted = {spec.name: spec.upstream for spec in topology.proxies()}
    deadline = time.monotonic() + READY_WAIT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(ProxyApiError, OSError):
            found = control.proxies()
            if all(
                name in found and _same_address(found[name].upstream, upstream)
                for name, upstream in wanted.items()
            ):
                return
        if entry.kind != "external" and not processes.is_running(entry.pid, entry.argv):
            break
        time.sleep(0.1)
    where = entry.url if entry.kind == "external" else f"port {entry.api_port}; see {entry.log}"
    msg = f"the {entry.kind} Toxiproxy did not come up with every proxy ({where})"
    raise ClusterError(msg)


def stop(entry: ProxyEntry, topology: Topology) -> None:
    """Stop a server started here, or delete the proxies made on an external one."""
    if entry.kind != "external":
        processes.terminate(entry.pid, entry.argv)
        entry.pid = None
        return
    control = control_of(entry, timeout_s=2.0)
    for spec in topology.proxies():
        with contextlib.suppress(ProxyNotFound, ProxyApiError, OSError):
            control.delete(spec.name)
    _log.info("external_proxies_deleted", url=entry.url, proxies=len(topology.proxies()))
