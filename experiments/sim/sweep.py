"""Sweep many seeds of one ``SimSpec``, in parallel worker processes.

Rules: a seed's outcome depends on nothing but ``(spec, seed)``, so seeds can
run in any process and any order; results come back in seed order. Failing
seeds save their history and results under ``out_dir/seed-N/`` so they can be
examined and reproduced.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.history import write_history
from experiments.sim.run import SimResult, SimSpec, run_seed


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedOutcome:
    """What a sweep keeps of one seed (the history stays on disk, if saved)."""

    seed: int
    ok: bool
    valid: bool | str
    live: bool
    invariants: tuple[str, ...]
    """Raft safety violations seen inside the nodes (see ``SimResult.invariants``)."""
    runaway: bool
    """Stopped early for spinning past its event budget."""
    summary: str
    recovery_s: float | None
    wall_s: float
    stats: dict[str, Any]
    saved: str | None
    """The directory holding this seed's history, when it was saved."""


def save_result(result: SimResult, spec: SimSpec, directory: Path) -> None:
    """Write ``history.jsonl`` and ``results.json`` for one seed into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    write_history(directory / "history.jsonl", result.history)
    results = {
        "seed": result.seed,
        "ok": result.ok,
        "live": result.live,
        "runaway": result.runaway,
        "recovery_s": result.recovery_s,
        "bug": spec.bug,
        "nodes": spec.nodes,
        "duration_s": spec.duration_s,
        "nemeses": [k.value for k in spec.nemeses],
        "weights": None if spec.weights is None else list(spec.weights),
        "faults": [
            {"kind": f.kind.value, "at_s": f.at_s, "duration_s": f.duration_s}
            for f in result.schedule.faults
        ],
        "compose": spec.compose,
        "boot_failures": list(result.boot_failures),
        "invariants": list(result.invariants),
        "linearizable": result.linearizable.to_json(),
        "stats": result.stats,
    }
    (directory / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


def run_one(spec: SimSpec, seed: int, out_dir: Path | None, save_all: bool) -> SeedOutcome:
    """Run and check one seed; save it when it failed (or always, with ``save_all``)."""
    started = time.perf_counter()
    result = run_seed(spec, seed)
    wall = time.perf_counter() - started
    saved = None
    if out_dir is not None and (save_all or not result.ok):
        directory = out_dir / f"seed-{seed}"
        save_result(result, spec, directory)
        saved = str(directory)
    return SeedOutcome(
        seed=seed,
        ok=result.ok,
        valid=result.linearizable.valid,
        live=result.live,
        invariants=result.invariants,
        runaway=result.runaway,
        summary=result.linearizable.summary,
        recovery_s=result.recovery_s,
        wall_s=wall,
        stats=result.stats,
        saved=saved,
    )


def default_jobs() -> int:
    """Worker processes: one per available core."""
    return max(1, len(os.sched_getaffinity(0)))


def sweep(
    spec: SimSpec,
    seeds: Sequence[int],
    *,
    jobs: int = 1,
    out_dir: Path | None = None,
    save_all: bool = False,
    on_done: Callable[[SeedOutcome], None] | None = None,
) -> list[SeedOutcome]:
    """Run every seed; ``on_done`` is called as each finishes (for progress bars).

    Returns:
        The outcomes, in seed order.
    """
    outcomes: dict[int, SeedOutcome] = {}

    def finished(outcome: SeedOutcome) -> None:
        outcomes[outcome.seed] = outcome
        if on_done is not None:
            on_done(outcome)

    if jobs <= 1 or len(seeds) <= 1:
        for seed in seeds:
            finished(run_one(spec, seed, out_dir, save_all))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for outcome in _unordered(pool, spec, seeds, out_dir, save_all):
                finished(outcome)
    return [outcomes[s] for s in seeds]


def _unordered(
    pool: ProcessPoolExecutor,
    spec: SimSpec,
    seeds: Sequence[int],
    out_dir: Path | None,
    save_all: bool,
) -> Iterator[SeedOutcome]:
    futures = [pool.submit(run_one, spec, seed, out_dir, save_all) for seed in seeds]
    for future in as_completed(futures):
        yield future.result()
