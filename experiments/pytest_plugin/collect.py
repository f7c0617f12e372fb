"""Experiment files as tests: ``pytest experiments/catalog/`` collects one test per experiment
file and seed (``isolate-leader.yaml::isolate-leader[seed-3]``).

Rules: a YAML file is collected only when the user asks for it: it (or a directory holding
it) is named on the command line, or ``chaoslab_collect`` / ``--chaoslab-collect`` is on, so
a project's usual test run never starts running experiment files by accident. Among those,
only files that look like experiments (a mapping with ``name`` and ``duration``) are
collected; other YAML (compose files, CI workflows) is left alone unless named exactly, and
so are the files of run directories (``experiment.yaml`` or ``shrunk.yaml`` beside a
``results.json``). An invalid experiment is a collection error with one line per problem.
Seeds: the file's own ``seed:`` (a resolved ``experiment.yaml`` from a run directory replays
that run), else the session's; regression seeds first either way. The backend is the
session's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from experiments.pytest_plugin.results import ChaosRunFailed
from experiments.pytest_plugin.running import ChaosSession

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from experiments.spec import Experiment

SUFFIXES = (".yaml", ".yml")
RUN_RECORD = "results.json"
"""A run directory's file: experiment files beside it are records of runs, collected only
when named exactly."""
_MAX_PEEK_BYTES = 1024 * 1024


def explicit_paths(config: pytest.Config) -> list[Path]:
    """The paths named on the command line (none when pytest fell back to ``testpaths``
    or the current directory)."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return []
    base = config.invocation_params.dir
    return [(base / arg.split("::", 1)[0]).resolve() for arg in config.args]


def wanted(path: Path, config: pytest.Config, session: ChaosSession) -> bool:
    """Whether ``path`` should be collected as an experiment (see the module docstring)."""
    if path.suffix not in SUFFIXES:
        return False
    resolved = path.resolve()
    named = explicit_paths(config)
    if resolved in named:
        return True
    if not session.settings.collect and not any(p in resolved.parents for p in named):
        return False
    if (path.parent / RUN_RECORD).exists():
        return False
    return looks_like_experiment(path)


def looks_like_experiment(path: Path) -> bool:
    """A YAML mapping with ``name`` and ``duration`` keys."""
    try:
        with path.open("rb") as handle:
            data = yaml.safe_load(handle.read(_MAX_PEEK_BYTES))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and "name" in data and "duration" in data


class ExperimentFile(pytest.File):
    """One experiment file: one ``ExperimentItem`` per seed."""

    def collect(self) -> Iterator[ExperimentItem]:
        """Load the file and make its items.

        Raises:
            CollectError: the file is not a valid experiment (one line per problem).
        """
        from experiments.pytest_plugin.plugin import session_of  # noqa: PLC0415 - cycle
        from experiments.spec import ExperimentError, load_experiment  # noqa: PLC0415 - lazy

        session = session_of(self.config)
        try:
            experiment = load_experiment(self.path)
        except ExperimentError as exc:
            raise self.CollectError("\n".join(exc.problems)) from None
        own = (experiment.seed,) if experiment.seed is not None else session.settings.seeds
        key = f"{self.nodeid}::{experiment.name}"
        for seed in session.seeds_for(key, own):
            yield ExperimentItem.from_parent(
                self, name=f"{experiment.name}[seed-{seed}]", experiment=experiment, seed=seed
            )


class ExperimentItem(pytest.Item):
    """One run of an experiment file with one seed, on the session's backend."""

    def __init__(self, *, experiment: Experiment, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.experiment = experiment
        self.seed = seed
        self.add_marker(pytest.mark.chaos)

    @property
    def backend(self) -> str:
        """Where it runs."""
        from experiments.pytest_plugin.plugin import session_of  # noqa: PLC0415 - cycle

        return session_of(self.config).settings.backend

    def runtest(self) -> None:
        """Run and judge the experiment; a run that does not pass fails the test."""
        from experiments.pytest_plugin.plugin import session_of  # noqa: PLC0415 - cycle

        session = session_of(self.config)
        try:
            result = session.execute(
                self.experiment, backend=self.backend, seed=self.seed, source=self.path,
                test_id=self.nodeid, check=True,
            )
        except ChaosRunFailed as failure:
            self.user_properties.extend(failure.result.properties())
            raise
        self.user_properties.extend(result.properties())

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        """A failed run's story as plain text (no traceback: the code is chaoslab's)."""
        from experiments.errors import BadInput  # noqa: PLC0415 - lazy

        if isinstance(excinfo.value, ChaosRunFailed | BadInput):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the test is, and its one-line description."""
        return self.path, None, f"{self.experiment.name} seed {self.seed} on {self.backend}"
