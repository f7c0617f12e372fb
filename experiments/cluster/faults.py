"""Network faults on a local cluster, started from one terminal and healed from any other.

Rules: plans come from ``proxy.faults`` and are applied by ``proxy.injection``; each
started fault is recorded in the cluster record (``FaultEntry``) so ``heal`` can undo
it anywhere. Static faults (partition, latency, bandwidth) live in the proxy server
only, and ``heal`` sweeps every toxic and disabled proxy of the topology. Message
loss needs someone to flap the links: a detached flapper process (``chaoslab cluster
flap``, recorded by pid) runs the seeded schedule until it ends or is stopped, and
restores its links on the way out; ``heal`` stops it first.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from experiments.cluster import processes
from experiments.cluster.state import FaultEntry
from proxy import injection
from proxy.control import ToxiproxyControl
from proxy.faults import CutMode, FaultPlan, LossPlan

_log = structlog.get_logger()

FLAPPER_LOG = "flapper.log"
STOP_GRACE_S = 10.0


def static_entry(plan: FaultPlan) -> FaultEntry:
    """The record of a static fault that was just applied."""
    return FaultEntry(
        f=plan.f, description=plan.description, value=dict(plan.value), started_at=time.time()
    )


def loss_to_json(plan: LossPlan) -> str:
    """A loss plan as one compact JSON object (a flapper's command-line argument)."""
    return json.dumps(
        {
            "description": plan.description,
            "value": dict(plan.value),
            "proxies": list(plan.proxies),
            "p": plan.p,
            "interval_ms": plan.interval_ms,
            "seed": plan.seed,
            "max_steps": plan.max_steps,
            "mode": plan.mode.value,
            "tag": plan.tag,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def loss_from_json(text: str) -> LossPlan:
    """The loss plan ``loss_to_json`` wrote.

    Raises:
        ValueError: the text is not such a plan.
    """
    raw: dict[str, Any] = json.loads(text)
    return LossPlan(
        description=str(raw["description"]),
        value=dict(raw["value"]),
        proxies=tuple(str(p) for p in raw["proxies"]),
        p=float(raw["p"]),
        interval_ms=int(raw["interval_ms"]),
        seed=int(raw["seed"]),
        max_steps=int(raw["max_steps"]),
        mode=CutMode(raw["mode"]),
        tag=str(raw["tag"]),
    )


def start_flapper(directory: Path, plan: LossPlan) -> FaultEntry:
    """Start a detached flapper for ``plan``; return its record (with the pid)."""
    argv = processes.chaoslab_argv(
        "--log-format",
        "json",
        "cluster",
        "flap",
        "--cluster-dir",
        str(directory),
        "--plan",
        loss_to_json(plan),
    )
    pid = processes.spawn(argv, directory / FLAPPER_LOG)
    return FaultEntry(
        f=plan.f,
        description=plan.description,
        value=dict(plan.value),
        started_at=time.time(),
        pid=pid,
        argv=argv,
    )


def stop_flapper(entry: FaultEntry) -> bool:
    """Stop a recorded flapper (it restores its links as it ends); True when it ran."""
    if entry.pid is None:
        return False
    return processes.terminate(entry.pid, entry.argv, grace_s=STOP_GRACE_S)


def run_flapper(control: ToxiproxyControl, plan: LossPlan) -> int:
    """Flap the plan's links until the schedule ends or SIGTERM/SIGINT; restore them.

    Returns:
        0, or 1 when the flapper failed (the error is logged).
    """
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    fault = injection.FlappingFault(plan, control)
    fault.start()
    limit_s = plan.max_steps * plan.interval_ms / 1000 + 5.0
    deadline = time.monotonic() + limit_s
    while not stop.is_set() and time.monotonic() < deadline:
        if fault.join(0.2):
            break
    try:
        fault.undo()
    except Exception as exc:
        _log.error("flapper_failed", error=str(exc))
        return 1
    _log.info("flapper_stopped", description=plan.description, steps=len(fault.steps))
    return 0
