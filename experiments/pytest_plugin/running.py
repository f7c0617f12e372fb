"""Running experiments for tests: the ``chaos`` fixture's object (``Chaos``) and what it and
collected experiment files share (``ChaosSession.execute``): one run through the runner
of ``experiments.runner.api``, then, for a failing simulator run, shrinking and the
regression seeds file.

Rules: this module never forks the runner: every run is ``run_experiment``. A run that did
not pass raises ``ChaosRunFailed`` (unless the test asked to look at it with
``check=False``); its message is ``ChaosResult.explain()``. Only failing *simulator* seeds
are recorded (elsewhere a seed does not replay a run). The session object is the plugin's
only mutable state; it lives in the pytest config's stash.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from experiments.pytest_plugin import regressions
from experiments.pytest_plugin.results import ChaosResult, ChaosRunFailed
from experiments.pytest_plugin.settings import BACKENDS, Settings
from experiments.pytest_plugin.sources import ExperimentLike, build_experiment, resolve

if TYPE_CHECKING:
    from experiments.shrink import ShrinkResult
    from experiments.spec import Experiment

_log = structlog.get_logger()


@contextlib.contextmanager
def quiet_logs(quiet: bool) -> Iterator[None]:
    """On the simulator the nodes run in this process: keep their logs (below errors) out
    of the test's captured output while it runs, then restore the logging configuration."""
    if not quiet:
        yield
        return
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        yield
    finally:
        structlog.configure(**saved)


@dataclass(slots=True, kw_only=True)
class ChaosSession:
    """The plugin's state for one pytest session."""

    settings: Settings
    regressions: regressions.Regressions = field(
        default_factory=lambda: regressions.Regressions({}))
    recorded: list[tuple[str, int]] = field(default_factory=list)
    """Regression seeds added during this session."""
    failed: list[ChaosResult] = field(default_factory=list)
    """Runs that did not pass and failed their test."""
    kept: list[str] = field(default_factory=list)
    """Clusters kept for inspection, in words."""

    def seeds_for(self, key: str, seeds: tuple[int, ...]) -> tuple[int, ...]:
        """The regression seeds recorded for ``key`` first, then ``seeds``, no repeats."""
        return tuple(dict.fromkeys(self.regressions.for_test(key) + seeds))

    def execute(
        self,
        experiment: Experiment,
        *,
        backend: str,
        seed: int,
        source: Path | None,
        test_id: str | None,
        check: bool,
    ) -> ChaosResult:
        """Run ``experiment`` once and judge it; raise ``ChaosRunFailed`` when it did not
        pass and ``check`` is set (after shrinking a failing simulator run and recording
        its seed).

        Raises:
            BadInput: the backend cannot run this experiment (nothing was started).
            ChaosRunFailed: it did not pass (with ``check``).
        """
        __tracebackhide__ = True
        from experiments.backends import BackendOptions, refusals  # noqa: PLC0415 - lazy
        from experiments.errors import BadInput  # noqa: PLC0415 - lazy
        from experiments.runner.api import run_experiment  # noqa: PLC0415 - lazy

        problems = refusals(backend, experiment)
        if problems:
            msg = (f"experiment {experiment.name!r} cannot run on the {backend} backend: "
                   + "; ".join(problems))
            raise BadInput(msg)
        keep_dir = None
        options = None
        if self.settings.keep and backend == "local":
            keep_dir = Path(tempfile.mkdtemp(prefix=f"chaoslab-{experiment.name}-"))
            options = BackendOptions(data_dir=keep_dir)
        try:
            with quiet_logs(backend == "sim"):
                outcome = run_experiment(
                    experiment, backend=backend, seed=seed, runs_dir=self.settings.runs_dir,
                    source=None if source is None else str(source), options=options,
                )
        except BaseException:
            if keep_dir is not None:
                shutil.rmtree(keep_dir, ignore_errors=True)
            raise
        result = ChaosResult(outcome=outcome, source=source, test_id=test_id)
        if keep_dir is not None:
            if check and not result.passed:
                result = replace(result, kept=f"the cluster's data and node logs are in "
                                 f"{keep_dir} (processes stopped)")
                self.kept.append(f"{test_id or experiment.name}: {keep_dir}")
            else:
                shutil.rmtree(keep_dir, ignore_errors=True)
        if result.passed or not check:
            return result
        if backend == "sim" and result.verdict == "fail":
            result = self._after_sim_failure(result, experiment, test_id)
        self.failed.append(result)
        raise ChaosRunFailed(result)

    def _after_sim_failure(
        self, result: ChaosResult, experiment: Experiment, test_id: str | None
    ) -> ChaosResult:
        """Shrink the failing run (within budget) and record its seed."""
        shrunk = self.shrink(result, experiment)
        if shrunk is not None:
            result = replace(result, shrunk=shrunk)
        if test_id is not None:
            path = self.record(test_id, result)
            if path is not None:
                result = replace(result, regression=path)
        return result

    def shrink(self, result: ChaosResult, experiment: Experiment,
               budget_s: float | None = None) -> ShrinkResult | None:
        """Shrink a failing simulator run, and save the smallest experiment beside it."""
        from experiments.shrink import save_shrunk, shrink  # noqa: PLC0415 - lazy

        budget = self.settings.shrink_s if budget_s is None else budget_s
        if budget <= 0 or result.backend != "sim" or result.verdict != "fail":
            return None
        with quiet_logs(True):
            found = shrink(experiment, result.seed, budget_s=budget)
        if found is None or result.run_dir is None:
            return found
        return save_shrunk(found, result.run_dir)

    def record(self, test_id: str, result: ChaosResult) -> Path | None:
        """Add the run's seed to the regression file under the test's id (sim only)."""
        path = self.settings.regressions
        if path is None or result.backend != "sim":
            return None
        key = regressions.base_id(test_id)
        failed = ", ".join(c.name for c in result.failed_checks) or result.verdict
        note = f"{result.experiment}: {failed}"
        try:
            added = regressions.record(path, key, result.seed, note)
        except (OSError, regressions.RegressionFileError) as exc:
            _log.error("chaoslab.regression_not_recorded", file=str(path), error=str(exc))
            return None
        if added:
            self.recorded.append((key, result.seed))
        return path


@dataclass(slots=True, kw_only=True)
class MarkerSpec:
    """What a ``@pytest.mark.chaos(...)`` says (every field optional)."""

    experiment: ExperimentLike | None = None
    backend: str | None = None
    seeds: tuple[int, ...] | None = None
    nodes: int | None = None

    @classmethod
    def of(cls, kwargs: Mapping[str, Any], where: str) -> MarkerSpec:
        """Validate a marker's keyword arguments.

        Raises:
            ValueError: an unknown argument or a bad value (the message says which).
        """
        from experiments.pytest_plugin.settings import parse_seeds  # noqa: PLC0415

        unknown = sorted(set(kwargs) - {"experiment", "backend", "seeds", "nodes"})
        if unknown:
            msg = (f"{where}: @pytest.mark.chaos takes experiment=, backend=, seeds= and "
                   f"nodes=; found {', '.join(unknown)}")
            raise ValueError(msg)
        backend = kwargs.get("backend")
        if backend is not None and backend not in BACKENDS:
            msg = f"{where}: @pytest.mark.chaos(backend={backend!r}): expected one of " \
                  + ", ".join(BACKENDS)
            raise ValueError(msg)
        seeds: Any = kwargs.get("seeds")
        parsed: tuple[int, ...] | None = None
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            parsed = (seeds,)
        elif isinstance(seeds, str):
            try:
                parsed = parse_seeds(seeds)
            except ValueError as exc:
                msg = f"{where}: @pytest.mark.chaos(seeds={seeds!r}): expected {exc}"
                raise ValueError(msg) from None
        elif seeds is not None:
            try:
                parsed = tuple(int(s) for s in seeds if not isinstance(s, bool))
            except (TypeError, ValueError):
                msg = (f"{where}: @pytest.mark.chaos(seeds={seeds!r}): expected a seed, "
                       "a string such as '1..5', or a list of seeds")
                raise ValueError(msg) from None
        nodes = kwargs.get("nodes")
        if nodes is not None and (not isinstance(nodes, int) or not 1 <= nodes <= 9):
            msg = f"{where}: @pytest.mark.chaos(nodes={nodes!r}): expected 1..9"
            raise ValueError(msg)
        return cls(experiment=kwargs.get("experiment"), backend=backend, seeds=parsed,
                   nodes=nodes)


class Chaos:
    """The ``chaos`` fixture: runs experiments in a test with this test's seed and backend.

    ``run()`` returns a ``ChaosResult`` (verdicts, availability, run directory) and, unless
    ``check=False``, fails the test with the whole story when the run did not pass.
    """

    def __init__(self, *, session: ChaosSession, seed: int, backend: str,
                 marker: MarkerSpec, test_id: str,
                 properties: list[tuple[str, object]] | None = None) -> None:
        self.session = session
        self.seed = seed
        """This test's seed (one test per seed)."""
        self.backend = backend
        """Where this test's experiments run (marker, then command line, env, ini)."""
        self.marker = marker
        self.test_id = test_id
        self.results: list[ChaosResult] = []
        """Every run this test made."""
        self._properties = properties if properties is not None else []

    def experiment(self, base: ExperimentLike | None = None, /, **changes: Any) -> Experiment:
        """``build_experiment``: ``base`` (a catalog name, file, dict or ``Experiment``) with
        ``changes`` applied, validated."""
        return build_experiment(base, **changes)

    def run(
        self,
        experiment: ExperimentLike | None = None,
        *,
        seed: int | None = None,
        backend: str | None = None,
        check: bool = True,
    ) -> ChaosResult:
        """Run an experiment once and judge it.

        Args:
            experiment: a catalog name, a YAML file, a dict of the file's fields, or an
                ``Experiment`` (None: the one named by ``@pytest.mark.chaos``).
            seed: the run's seed (default: this test's).
            backend: ``sim``, ``local`` or ``docker`` (default: this test's).
            check: fail the test when the run does not pass (False: just return it).

        Raises:
            ChaosRunFailed: the run did not pass (with ``check``).
            ExperimentError: the experiment is invalid (what and where).
            BadInput: the backend cannot run it.
        """
        __tracebackhide__ = True
        spec = experiment if experiment is not None else self.marker.experiment
        if spec is None:
            msg = ("chaos.run() needs an experiment: pass one (a catalog name, a file, a dict "
                   "or an Experiment) or name it in @pytest.mark.chaos(experiment=...)")
            raise TypeError(msg)
        loaded, source = resolve(spec)
        chosen = backend or self.backend
        if chosen not in BACKENDS:
            msg = f"chaos.run(backend={chosen!r}): expected one of {', '.join(BACKENDS)}"
            raise ValueError(msg)
        try:
            result = self.session.execute(
                loaded, backend=chosen, seed=self.seed if seed is None else seed,
                source=source, test_id=self.test_id, check=check,
            )
        except ChaosRunFailed as failure:
            self._ran(failure.result)
            raise
        self._ran(result)
        return result

    def _ran(self, result: ChaosResult) -> None:
        self.results.append(result)
        self._properties.extend(result.properties())

    def shrink(self, result: ChaosResult, *, budget_s: float | None = None) -> ShrinkResult | None:
        """Shrink a failing simulator run to a smaller experiment that still fails, and save
        it beside the run (``shrunk.yaml``, ``shrunk/``); None when it does not fail again.

        Args:
            result: a failing run on the simulator.
            budget_s: seconds to spend (default: ``--chaoslab-shrink``).
        """
        experiment = result.outcome.resolved
        if experiment is None:
            return None
        return self.session.shrink(result, experiment, budget_s=budget_s)

    def __repr__(self) -> str:
        return f"<chaos: seed {self.seed} on {self.backend}, {len(self.results)} run(s)>"
