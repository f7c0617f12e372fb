"""chaoslab's own resilience tests on the simulator, written with its pytest plugin: catalog
experiments, experiments built in Python, exact replay from a run directory, every seeded
bug caught, and a failing run shrunk.

Every test here is pinned to the simulator (deterministic from its seed: a failure here is
reproduced by the seed it prints). The seeded bugs are run with ``check=False``: for them a
failing run is the expected outcome.
"""

from __future__ import annotations

from typing import Any

import pytest

from experiments.history import format_history
from experiments.pytest_plugin import Chaos
from experiments.spec import load_experiment

pytestmark = pytest.mark.chaos(backend="sim")


def test_an_isolated_leader_serves_nothing(chaos: Chaos) -> None:
    """isolate-leader: a new leader takes over; the old one's clients get no answers."""
    result = chaos.run("isolate-leader")

    assert (True, 0.0) == (result.check("linearizable").held, result.availability("minority"))


@pytest.mark.chaos(experiment="one-way")
def test_a_leader_that_hears_nobody_steps_down() -> None:
    """one-way: CheckQuorum makes the deaf leader step down; no stale reads (the plugin runs
    the marker's experiment and fails the test if an expectation does not hold)."""


def test_a_shorter_partition_built_in_python(chaos: Chaos) -> None:
    """The catalog's partition-majority, shortened and with fewer clients, still holds."""
    experiment = chaos.experiment(
        "partition-majority",
        duration="24s",
        workload={"clients": 6},
        nemesis=[{"at": "3s", "fault": "partition-majority", "for": "6s"},
                 {"at": "12s", "fault": "partition-majority", "for": "5s"}],
    )

    result = chaos.run(experiment)

    assert (2, 0) == (result.stats["faults"], int(result.check("lost-writes").measured))


def test_random_faults_replay_exactly_from_the_run_directory(chaos: Chaos) -> None:
    """The run directory's experiment.yaml (the random nemesis written out) replays the run
    byte for byte."""
    first = chaos.run(chaos.experiment("mixed", duration="24s",
                                       nemesis={"every": "6s", "for": "3s", "recovery": "6s"}))
    assert first.run_dir is not None
    resolved = first.run_dir / "experiment.yaml"

    again = chaos.run(resolved)

    assert isinstance(load_experiment(resolved).nemesis, tuple)
    assert format_history(first.outcome.history) == format_history(again.outcome.history)


def _bug(name: str, faults: list[str], *, compose: float = 0.0,
         expect: dict[str, Any] | None = None) -> dict[str, Any]:
    """A 20 s experiment with seeded bug ``name`` switched on, under the faults that expose
    it, drawn from the seed."""
    return {
        "name": f"bug-{name}",
        "cluster": {"nodes": 5, "unsafe": name, "allow-unsafe": True},
        "workload": {"clients": 10, "keys": 3, "rate": 100},
        "duration": "20s",
        "nemesis": {"random": faults, "every": "6s", "for": "4s", "compose": compose,
                    "recovery": "6s"},
        "expect": expect or {"linearizable": True, "lost-writes": 0, "recovery": "<= 5s"},
    }


BUGS = {
    # bug: (experiment, the check that must catch it, seeds to try, the known one first)
    "votes-not-persisted": (
        _bug("votes-not-persisted", ["restarts", "partition-leader-rolling", "latency"],
             compose=1.0), "raft-invariants", (14, 23, 26, 50, 55)),
    "commit-prior-term": (
        _bug("commit-prior-term", ["partition-leader-rolling", "restarts"], compose=0.5),
        "raft-invariants", (3, 5, 1, 2, 4, 6, 7, 8)),
    "leader-reads-without-readindex": (
        _bug("leader-reads-without-readindex", ["partition-leader", "partition-majority"]),
        "linearizable", (1, 2, 3, 4)),
    "unsynced-storage": (
        _bug("unsynced-storage", ["kill", "restarts"]), "restarts", (1, 2, 3, 4)),
    "no-session-dedupe": (
        _bug("no-session-dedupe", ["partition-leader", "kill", "loss"]), "linearizable",
        (2, 4, 1, 3, 5, 6, 7, 8)),
}
"""Each seeded bug with an experiment that catches it (``chaoslab sim --list-bugs``)."""


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_every_seeded_bug_is_caught(chaos: Chaos, bug: str) -> None:
    """A deliberately broken store fails the check that watches for its bug (the seeds
    tried and their verdicts are in the assertion message)."""
    experiment, check, seeds = BUGS[bug]
    verdicts = {}
    for seed in seeds:
        result = chaos.run(experiment, seed=seed, check=False)
        verdicts[seed] = [c.name for c in result.failed_checks]
        if result.verdict == "fail" and not result.check(check).held:
            break

    assert check in verdicts[seed], f"{bug}: seeds tried and what failed: {verdicts}"


def test_a_failing_run_shrinks_to_a_small_experiment_that_still_fails(chaos: Chaos) -> None:
    """Shrinking the stale-read bug's failing run keeps it failing with a fraction of its
    operations; the smallest experiment is saved beside the run and fails when run again."""
    experiment, _, _ = BUGS["leader-reads-without-readindex"]
    result = chaos.run(experiment, seed=1, check=False)
    assert "fail" == result.verdict

    shrunk = chaos.shrink(result, budget_s=150)  # ~20 s on a quiet machine (a fixpoint)

    assert shrunk is not None and shrunk.path is not None and shrunk.run_dir is not None
    assert shrunk.after.operations * 4 <= shrunk.before.operations, shrunk.describe()
    assert (shrunk.run_dir / "history.jsonl").exists()
    again = chaos.run(shrunk.path, seed=shrunk.seed, check=False)
    assert not again.check("linearizable").held
