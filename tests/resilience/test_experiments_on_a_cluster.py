"""chaoslab's own resilience tests on a real cluster, written with its pytest plugin: whole
experiments, each on a cluster of its own.

These run on the session's backend: ``local`` by default (node processes behind the embedded
Toxiproxy), ``docker`` in the CI recipe (``--chaoslab-backend docker``: each run starts a
compose project of its own and removes it), simulated with ``--chaoslab-backend sim``.
Expectations such as ``recovery: "<= 5s"`` are judged by the runner from the recorded
history; nothing here times anything.
"""

from __future__ import annotations

from experiments.pytest_plugin import Chaos

LEADER_ISOLATION = {
    "name": "ci-isolate-leader",
    "description": "The leader is cut off alone for 5 s; the majority elects another and keeps "
                   "serving, the old leader's clients get no answers, nothing is lost.",
    "cluster": {"nodes": 5},
    "workload": {"clients": 6, "keys": 2, "rate": 60},
    "duration": "15s",
    "nemesis": [{"at": "3s", "fault": "partition-leader", "for": "5s"}],
    "expect": {"linearizable": True, "lost-writes": 0,
               "availability": {"quiet": ">= 0.95", "minority": "<= 0.05"},
               "recovery": "<= 5s"},
}
LEADER_KILL = {
    "name": "ci-kill-leader",
    "description": "The leader is killed for 4 s and restarted on its data; a new leader takes "
                   "over, nothing acknowledged is lost.",
    "cluster": {"nodes": 5},
    "workload": {"clients": 6, "keys": 2, "rate": 60},
    "duration": "14s",
    "nemesis": [{"at": "3s", "fault": "kill", "target": "leader", "for": "4s"}],
    "expect": {"linearizable": True, "lost-writes": 0, "recovery": "<= 5s"},
}


def test_survives_leader_isolation(chaos: Chaos) -> None:
    """A 15 s run with the leader partitioned away holds every expectation."""
    result = chaos.run(LEADER_ISOLATION)

    assert 0.0 == result.availability("minority")


def test_survives_leader_kill(chaos: Chaos) -> None:
    """A 14 s run with the leader killed and restarted holds every expectation."""
    result = chaos.run(LEADER_KILL)

    assert 1 == result.stats["faults"]
