"""Many seeds of one experiment on the simulator: in local worker processes, or on an
existing Dask distributed cluster.

Rules: a simulated run depends on nothing but (experiment, seed), so seeds can run in any
process, on any machine, in any order. Workers return the whole run (results, history,
events, the resolved experiment) and this process writes every run directory, so results
and failing seeds come back exactly alike from local workers and from Dask, and nothing
is written on remote machines.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from experiments.errors import BadInput
from experiments.runner.api import RunOutcome, run_experiment, save_outcome
from experiments.spec.model import Experiment


def default_jobs() -> int:
    """One worker per CPU this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
               (os.cpu_count() or 1))


def run_seed(experiment_json: dict[str, Any], seed: int, source: str | None,
             check_time_limit_s: float) -> RunOutcome:
    """Run one simulated seed (in a worker); returns everything, writes nothing."""
    from experiments import logs  # noqa: PLC0415 - workers configure their own logs

    logs.configure("json", "error")
    experiment = Experiment.model_validate(experiment_json)
    return run_experiment(
        experiment, backend="sim", seed=seed, runs_dir=None, source=source,
        check_time_limit_s=check_time_limit_s, render=False,
    )


def _local(payload: dict[str, Any], seeds: Sequence[int], source: str | None,
           jobs: int, limit: float) -> Iterator[RunOutcome]:
    if jobs <= 1:
        for seed in seeds:
            yield run_seed(payload, seed, source, limit)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_seed, payload, seed, source, limit) for seed in seeds]
        for future in as_completed(futures):
            yield future.result()


def _dask(payload: dict[str, Any], seeds: Sequence[int], source: str | None,
          scheduler: str, limit: float) -> Iterator[RunOutcome]:
    try:
        from distributed import Client  # noqa: PLC0415 - Dask is optional
        from distributed import as_completed as dask_completed  # noqa: PLC0415
    except ImportError as exc:
        msg = "--scheduler needs Dask: python3 -m pip install 'chaoslab[dask]'"
        raise BadInput(msg) from exc
    try:
        client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        msg = f"--scheduler {scheduler}: no Dask scheduler answers there ({exc})"
        raise BadInput(msg) from exc
    try:
        futures = [
            client.submit(run_seed, payload, seed, source, limit, pure=False) for seed in seeds
        ]
        for future in dask_completed(futures):  # type: ignore[no-untyped-call]
            yield future.result()
    finally:
        client.close()  # type: ignore[no-untyped-call]


def sweep(
    experiment: Experiment,
    seeds: Sequence[int],
    *,
    runs_dir: Path | None,
    source: str | None,
    jobs: int,
    scheduler: str | None = None,
    check_time_limit_s: float = 60.0,
    on_done: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run every seed on the simulator; returns the outcomes in seed order.

    Args:
        experiment: the experiment.
        seeds: the seeds.
        runs_dir: where run directories are written (None: nowhere).
        source: the experiment's file (for reproduce commands).
        jobs: local worker processes (ignored with ``scheduler``).
        scheduler: a Dask scheduler address (``tcp://host:8786``) to run on instead.
        check_time_limit_s: the linearizability search's budget per run.
        on_done: told about each run as it completes (in completion order).

    Raises:
        BadInput: ``scheduler`` given but Dask is missing or nothing answers there.
    """
    payload = experiment.model_dump(by_alias=True, mode="json")
    runs = (
        _dask(payload, seeds, source, scheduler, check_time_limit_s)
        if scheduler
        else _local(payload, seeds, source, jobs, check_time_limit_s)
    )
    outcomes = []
    for outcome in runs:
        saved = outcome if runs_dir is None else save_outcome(outcome, runs_dir)
        outcomes.append(saved)
        if on_done is not None:
            on_done(saved)
    return sorted(outcomes, key=lambda o: o.seed)
