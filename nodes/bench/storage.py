"""``chaoslab bench storage``: fsync'd WAL appends per second, one per save vs. group commit.

Rules: measures ``WalStorage`` over ``OsFileSystem`` in a temporary
directory on a real disk; every mode is bounded in time (``--seconds``) and
in count. Figures depend on the disk and on whatever else the machine is
doing: report them with that context. The ``--unsafe-never`` rows measure
the UNSAFE never-fsync policy, for contrast only.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from nodes.raft.messages import Entry, HardState
from nodes.storage import OsFileSystem, SyncPolicy, WalStorage

MAX_SAVES = 1_000_000
"""Upper bound on saves per mode, whatever the time budget."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResult:
    """One mode's figures."""

    mode: str
    policy: str
    entries_per_save: int
    entry_bytes: int
    saves: int
    entries: int
    seconds: float
    saves_per_s: float
    entries_per_s: float
    mean_save_us: float
    p99_save_us: float


def measure(
    *,
    parent: Path | None,
    entries_per_save: int,
    entry_bytes: int,
    seconds: float,
    policy: SyncPolicy,
) -> BenchResult:
    """Append batches of entries for ``seconds`` in a fresh directory and time each save.

    Args:
        parent: where to create the temporary data directory (None: the system default).
        entries_per_save: batch size (1: no group commit).
        entry_bytes: payload bytes per entry.
        seconds: time budget.
        policy: the fsync policy.

    Returns:
        The figures for this mode.
    """
    payload = b"x" * entry_bytes
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="chaoslab-bench-", dir=parent) as tmp:
        storage = WalStorage(OsFileSystem(), Path(tmp), sync=policy)
        storage.load()
        storage.save(hard_state=HardState(term=1, vote=1), entries=[])
        index = 0
        start = time.perf_counter()
        deadline = start + seconds
        while len(latencies) < MAX_SAVES:
            batch = [
                Entry(term=1, index=index + i, data=payload) for i in range(1, entries_per_save + 1)
            ]
            before = time.perf_counter()
            storage.save(hard_state=None, entries=batch)
            after = time.perf_counter()
            latencies.append(after - before)
            index += entries_per_save
            if after >= deadline:
                break
        elapsed = time.perf_counter() - start
        storage.close()
    ordered = sorted(latencies)
    saves = len(latencies)
    return BenchResult(
        mode="one per save" if entries_per_save == 1 else f"group commit ({entries_per_save})",
        policy=policy.value if policy is SyncPolicy.ALWAYS else f"{policy.value} (UNSAFE)",
        entries_per_save=entries_per_save,
        entry_bytes=entry_bytes,
        saves=saves,
        entries=saves * entries_per_save,
        seconds=round(elapsed, 3),
        saves_per_s=round(saves / elapsed, 1),
        entries_per_s=round(saves * entries_per_save / elapsed, 1),
        mean_save_us=round(sum(latencies) / saves * 1e6, 1),
        p99_save_us=round(ordered[min(saves - 1, int(saves * 0.99))] * 1e6, 1),
    )


@click.command("storage")
@click.option("--seconds", default=2.0, show_default=True, help="Time budget per mode.")
@click.option("--entry-bytes", default=100, show_default=True, help="Payload bytes per entry.")
@click.option("--batch", default=64, show_default=True, help="Entries per save (group commit).")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Parent of the temporary data directory (default: the system temp dir).",
)
@click.option(
    "--unsafe-never", is_flag=True, help="Also measure the UNSAFE never-fsync policy (contrast)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def storage(
    *,
    seconds: float,
    entry_bytes: int,
    batch: int,
    parent: Path | None,
    unsafe_never: bool,
    as_json: bool,
) -> None:
    """fsync'd WAL appends per second: one entry per save vs. group commit."""
    if seconds <= 0 or entry_bytes < 0 or batch < 1:
        msg = "--seconds must be > 0, --entry-bytes >= 0 and --batch >= 1"
        raise click.BadParameter(msg)
    policies = [SyncPolicy.ALWAYS, *([SyncPolicy.UNSAFE_NEVER] if unsafe_never else [])]
    results = [
        measure(
            parent=parent,
            entries_per_save=size,
            entry_bytes=entry_bytes,
            seconds=seconds,
            policy=policy,
        )
        for policy in policies
        for size in (1, batch)
    ]
    if as_json:
        click.echo(json.dumps([asdict(result) for result in results], indent=2))
        return
    table = Table(title=f"WAL appends, {entry_bytes}-byte entries, {seconds:g} s per mode")
    for column in ("mode", "fsync", "saves/s", "entries/s", "mean save µs", "p99 save µs"):
        table.add_column(column, justify="left" if column in {"mode", "fsync"} else "right")
    for result in results:
        table.add_row(
            result.mode,
            result.policy,
            f"{result.saves_per_s:,.0f}",
            f"{result.entries_per_s:,.0f}",
            f"{result.mean_save_us:,.0f}",
            f"{result.p99_save_us:,.0f}",
        )
    Console().print(table)
