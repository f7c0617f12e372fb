"""Benchmark: commit throughput of the Raft core alone (3 nodes in one process, no IO).

Rules: measures only the core plus a minimal in-memory driver (no storage, no
network, no safety monitors); wall-clock time is read here, never in the core.
Results depend on machine load, so report the load with the numbers.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from dataclasses import asdict, dataclass

import click
from rich.console import Console
from rich.table import Table

from nodes.raft import Config, Message, RaftCore, Role

MAX_DELIVERY_STEPS = 10_000
"""Upper bound on driver iterations per round (a round that needs more is an error)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResult:
    """One batch size's figures."""

    batch: int
    rounds: int
    entries: int
    seconds: float
    entries_per_s: float
    messages_per_entry: float


class _Cluster:
    """Three cores wired by a FIFO queue; Ready batches are acknowledged at once."""

    def __init__(self, seed: int, max_entries_per_msg: int) -> None:
        voters = (1, 2, 3)
        self.cores = {
            i: RaftCore(
                Config(id=i, voters=voters, max_entries_per_msg=max_entries_per_msg),
                random.Random(seed * 1000 + i),
            )
            for i in voters
        }
        self.queue: deque[Message] = deque()
        self.messages = 0

    def pump(self) -> None:
        """Hand out every Ready and deliver every queued message once."""
        for core in self.cores.values():
            while core.has_ready():
                rd = core.ready()
                self.queue.extend(rd.messages)
                core.advance(rd)
        queue = self.queue
        self.messages += len(queue)
        for _ in range(len(queue)):
            m = queue.popleft()
            self.cores[m.to].step(m)

    def elect(self) -> RaftCore:
        """Make node 1 the leader and let its noop commit."""
        leader = self.cores[1]
        leader.campaign()
        for _ in range(MAX_DELIVERY_STEPS):
            self.pump()
            if leader.role is Role.LEADER and leader.commit_index >= leader.last_index:
                return leader
        msg = "no leader elected"
        raise RuntimeError(msg)


def run_bench(batch: int, rounds: int, max_seconds: float, seed: int = 0) -> BenchResult:
    """Propose ``batch`` entries, deliver until the leader commits them; repeat.

    Args:
        batch: proposals per round.
        rounds: how many rounds at most.
        max_seconds: stop early after this much wall-clock time.
        seed: seeds the cores' RNGs.

    Returns:
        The figures for this batch size.

    Raises:
        RuntimeError: a round did not commit within ``MAX_DELIVERY_STEPS`` steps.
    """
    cluster = _Cluster(seed, max_entries_per_msg=max(64, batch))
    leader = cluster.elect()
    cluster.messages = 0
    payload = b"x" * 64
    done = 0
    start = time.perf_counter()
    deadline = start + max_seconds
    for _ in range(rounds):
        target = 0
        for _ in range(batch):
            target, _term = leader.propose(payload)
        for _ in range(MAX_DELIVERY_STEPS):
            cluster.pump()
            if leader.commit_index >= target:
                break
        else:
            msg = f"round {done + 1} did not commit"
            raise RuntimeError(msg)
        done += 1
        if time.perf_counter() > deadline:
            break
    seconds = time.perf_counter() - start
    entries = done * batch
    return BenchResult(
        batch=batch,
        rounds=done,
        entries=entries,
        seconds=round(seconds, 4),
        entries_per_s=round(entries / seconds, 1) if seconds else 0.0,
        messages_per_entry=round(cluster.messages / entries, 3) if entries else 0.0,
    )


@click.command("raft")
@click.option(
    "--batch",
    "batches",
    type=click.IntRange(min=1),
    multiple=True,
    default=(1, 64),
    show_default=True,
    help="Proposals per round (repeatable).",
)
@click.option("--rounds", type=click.IntRange(min=1), default=3000, show_default=True)
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Stop a batch size early after this long.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per batch size.")
def raft(
    batches: tuple[int, ...], rounds: int, max_seconds: float, seed: int, as_json: bool
) -> None:
    """Committed entries per second of the sans-IO Raft core (3 nodes, in-process)."""
    results = [run_bench(b, rounds, max_seconds, seed) for b in batches]
    if as_json:
        for r in results:
            click.echo(json.dumps(asdict(r)))
        return
    table = Table(title="Raft core: 3 nodes in-process, no IO (64-byte entries)")
    for name in ("batch", "rounds", "entries", "seconds", "entries/s", "messages/entry"):
        table.add_column(name, justify="right")
    for r in results:
        table.add_row(
            str(r.batch),
            str(r.rounds),
            str(r.entries),
            f"{r.seconds:.3f}",
            f"{r.entries_per_s:,.0f}",
            f"{r.messages_per_entry:.2f}",
        )
    Console().print(table)
