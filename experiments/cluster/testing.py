"""Helpers for tests and experiments that drive a real local cluster.

Rules: every wait is bounded in time and count and fails with a message that
says what was awaited; every cluster started here is torn down (and purged).
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from experiments.cluster.layout import find_base
from experiments.cluster.local import LocalCluster, NodeReport, UpOptions

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A bounded wait ran out (a test failure, naming what was awaited)."""


def wait_for(
    probe: Callable[[], T | None],
    *,
    what: str,
    timeout_s: float = 20.0,
    interval_s: float = 0.1,
) -> T:
    """Call ``probe`` until it returns something other than None or False.

    Args:
        probe: returns the awaited value, or None/False while waiting.
        what: what is awaited (for the failure message).
        timeout_s: give up after this long.
        interval_s: pause between probes.

    Returns:
        The first truthy value ``probe`` returned.

    Raises:
        WaitTimeout: ``probe`` never returned a truthy value in time.
    """
    deadline = time.monotonic() + timeout_s
    for _ in range(max(1, int(timeout_s / interval_s) + 1)):
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval_s)
    msg = f"timed out after {timeout_s:.0f} s waiting for {what}"
    raise WaitTimeout(msg)


@contextlib.contextmanager
def running_cluster(data_dir: Path, options: UpOptions | None = None) -> Iterator[LocalCluster]:
    """Start a local cluster in ``data_dir``; stop it afterwards, purging its data unless
    the body failed (then data and logs stay for the post-mortem).

    Without a ``base_port``, the cluster's ports (``layout``) are a free block at a random
    place in 40000-59999, so concurrent test runs on one machine do not race for them.
    """
    cluster = LocalCluster(data_dir)
    chosen = options or UpOptions()
    if chosen.base_port is None:
        start = random.Random().randrange(40_000, 59_000, 10)
        base = find_base(
            chosen.nodes,
            with_proxy=chosen.proxied,
            proxy_base_port=chosen.proxy_base_port,
            start=start,
            attempts=20,
        )
        chosen = dataclasses.replace(chosen, base_port=base)
    try:
        cluster.up(chosen, wait_s=30)
        yield cluster
    except BaseException:
        if cluster.exists():
            cluster.down()  # keep the data and logs for the post-mortem
        raise
    cluster.down(purge=True)


def leader_of(cluster: LocalCluster) -> NodeReport:
    """Wait (bounded) for the current leader that a majority agrees on."""
    return cluster.wait_for_leader(30)


def caught_up(cluster: LocalCluster, node_id: int, index: int) -> bool:
    """Whether node ``node_id`` has applied at least ``index``."""
    for report in cluster.status():
        if report.id == node_id and report.view is not None:
            return report.view.applied_index >= index
    return False
