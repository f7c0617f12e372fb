"""How much shrinking reduces each seeded bug's failing experiment (the README's table).

    python3 tests/resilience/shrink_figures.py [--budget S] [--max-tries N] [--out DIR] [BUG...]

For every seeded bug, the experiment of tests/resilience/test_simulated.py that catches it
is run on the simulator with its seeds until one fails, then shrunk (``experiments.shrink``)
with the budget given (each change tried with 1 seed, then up to N when none is kept); the
smallest failing experiment is saved under DIR (default runs/shrink-figures/BUG/) and a
Markdown table of sizes before and after is printed. Figures, not a test: nothing here
asserts anything.
"""

from __future__ import annotations

import argparse
import runpy
import sys
import time
from pathlib import Path

import structlog

from experiments import logs
from experiments.runner.api import run_experiment
from experiments.shrink import save_shrunk, shrink
from experiments.spec import Experiment

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run, shrink and tabulate every seeded bug."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per bug")
    parser.add_argument("--max-tries", type=int, default=8, help="most seeds per change")
    parser.add_argument("--out", type=Path, default=Path("runs/shrink-figures"))
    parser.add_argument("bugs", nargs="*", help="only these seeded bugs")
    args = parser.parse_args()
    logs.configure("json", "error")
    log = structlog.get_logger()
    bugs = runpy.run_path(str(HERE / "test_simulated.py"))["BUGS"]
    rows = []
    for name, (data, _check, seeds) in sorted(bugs.items()):
        if args.bugs and name not in args.bugs:
            continue
        experiment = Experiment.model_validate(data)
        seed = next((s for s in seeds if run_experiment(
            experiment, backend="sim", seed=s, runs_dir=None, render=False).verdict == "fail"),
            None)
        if seed is None:
            log.error("shrink_figures.no_failing_seed", bug=name, seeds=list(seeds))
            continue
        started = time.monotonic()
        found = shrink(experiment, seed, budget_s=args.budget, max_runs=2000,
                       max_tries=args.max_tries)
        if found is None:
            log.error("shrink_figures.did_not_fail_again", bug=name, seed=seed)
            continue
        found = save_shrunk(found, args.out / name)
        b, a = found.before, found.after
        rows.append(
            f"| `{name}` | {seed} | {', '.join(found.failing())} | "
            f"{b.operations:,} → {a.operations:,} | {b.faults} → {a.faults} | "
            f"{b.fault_s:g} → {a.fault_s:g} s | {b.duration_s:g} → {a.duration_s:g} s | "
            f"{b.nodes} → {a.nodes} | {b.clients} → {a.clients} | {b.keys} → {a.keys} | "
            f"{found.runs} runs, {time.monotonic() - started:.0f} s"
            f"{'' if found.finished else ' (budget spent)'} |"
        )
        sys.stdout.write(rows[-1] + "\n")
        sys.stdout.flush()
    sys.stdout.write(
        "\n| bug | seed | still failing | operations | faults | faults in force | duration "
        "| nodes | clients | keys | search |\n| --- | --- | --- | --- | --- | --- | --- | --- "
        "| --- | --- | --- |\n" + "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
