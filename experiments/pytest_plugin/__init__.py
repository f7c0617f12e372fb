"""chaoslab's pytest plugin: chaos experiments and clusters as ordinary tests.

Rules: this facade only re-exports what test code uses; the hooks live in ``plugin``
(registered through the ``pytest11`` entry point ``chaoslab``).

- ``chaos`` fixture (``Chaos``): ``chaos.run("isolate-leader")`` runs an experiment (a
  catalog name, a YAML file, a dict, an ``Experiment``) with the test's seed and backend and
  returns a ``ChaosResult``; a run that does not pass fails the test (``ChaosRunFailed``).
- ``chaos_cluster`` fixture (``ChaosCluster``): a running local or docker cluster to hit
  with faults and talk to; healed after every test.
- ``@pytest.mark.chaos(experiment=..., backend=..., seeds=..., nodes=...)``.
- experiment files named on the command line are collected, one test per seed.
"""

from experiments.pytest_plugin.cluster import ChaosCluster, InjectedFault
from experiments.pytest_plugin.results import ChaosResult, ChaosRunFailed, CheckResult
from experiments.pytest_plugin.running import Chaos
from experiments.pytest_plugin.sources import build_experiment

__all__ = [
    "Chaos",
    "ChaosCluster",
    "ChaosResult",
    "ChaosRunFailed",
    "CheckResult",
    "InjectedFault",
    "build_experiment",
]
