"""The chaoslab pytest plugin, registered through the ``pytest11`` entry point (``chaoslab``):
installing chaoslab is enough; ``-p no:chaoslab`` turns it off.

Rules: hooks and fixtures only; the work is in the sibling modules. Loading it must stay
cheap (the runner, backends and simulator are imported on first use), and it changes
nothing in a test run that uses none of it: only tests that take ``chaos`` or
``chaos_cluster`` (or carry ``@pytest.mark.chaos``) and experiment files the user asked for
are touched. Settings: ``@pytest.mark.chaos`` on a test, then the command line, then the
environment, then the ini file, then the default (see ``settings``).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from experiments.pytest_plugin import regressions
from experiments.pytest_plugin.cluster import ChaosCluster, ClusterPool
from experiments.pytest_plugin.collect import ExperimentFile, wanted
from experiments.pytest_plugin.results import ChaosRunFailed
from experiments.pytest_plugin.running import Chaos, ChaosSession, MarkerSpec
from experiments.pytest_plugin.settings import OPTIONS, pick, settings_from

SESSION_KEY = pytest.StashKey[ChaosSession]()
CHAOS_KEY = pytest.StashKey[Chaos]()
REPORTS_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()
DEFAULT_NODES = 5
MARKER = (
    "chaos(experiment=None, backend=None, seeds=None, nodes=None): a chaos test. "
    "experiment: what the chaos fixture runs (a catalog name, a file, a dict); when the "
    "test body runs nothing, the plugin runs it after the body. backend: sim, local or "
    "docker for this test. seeds: N, 'A..B' or a list: one test per seed. nodes: the "
    "chaos_cluster's size. Each beats the command line, environment and ini."
)


def _dest(name: str) -> str:
    return f"chaoslab_{name}"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--chaoslab-*`` options and their ini keys."""
    group = parser.getgroup("chaoslab", "chaos experiments and clusters (chaoslab)")
    for option in OPTIONS:
        where = f"[env {option.env}; ini {option.ini}; default {option.default or 'none'}]"
        if option.flag_takes_value:
            group.addoption(option.flag, dest=_dest(option.name), default=None,
                            metavar=option.name.upper(), help=f"{option.help} {where}")
            parser.addini(option.ini, f"{option.help} (default {option.default or 'none'})",
                          type="string", default=None)
        else:
            group.addoption(option.flag, dest=_dest(option.name), action="store_true",
                            default=None, help=f"{option.help} {where}")
            parser.addini(option.ini, f"{option.help} (default {option.default})",
                          type="bool", default=None)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; read and check the settings and the regression seeds file.

    Raises:
        pytest.UsageError: a setting has a bad value, or the regression file a bad line.
    """
    config.addinivalue_line("markers", MARKER)
    ini_dir = config.inipath.parent if config.inipath is not None else config.rootpath
    raws = {
        option.name: pick(
            option,
            cli=config.getoption(_dest(option.name), default=None),
            environ=os.environ,
            ini=config.getini(option.ini),
            invocation_dir=config.invocation_params.dir,
            ini_dir=ini_dir,
        )
        for option in OPTIONS
    }
    settings = settings_from(raws)
    found = regressions.Regressions({})
    if settings.regressions is not None:
        try:
            found = regressions.read(settings.regressions)
        except regressions.RegressionFileError as exc:
            raise pytest.UsageError(f"chaoslab: {exc}") from None
    config.stash[SESSION_KEY] = ChaosSession(settings=settings, regressions=found)


def session_of(config: pytest.Config) -> ChaosSession:
    """The plugin's state for this session."""
    return config.stash[SESSION_KEY]


def pytest_report_header(config: pytest.Config) -> str:
    """One line with the settings in force and where each came from."""
    session = session_of(config)
    settings, sources = session.settings, session.settings.sources or {}

    def said(name: str, value: object) -> str:
        source = sources.get(name, "default")
        return f"{value}" if source == "default" else f"{value} ({source})"

    seeds = settings.seeds
    seeds_text = ",".join(map(str, seeds)) if len(seeds) <= 5 else \
        f"{len(seeds)} seeds from {seeds[0]}"
    regression = settings.regressions or "off"
    return (f"chaoslab: backend {said('backend', settings.backend)}, seeds "
            f"{said('seeds', seeds_text)}, runs in {said('runs_dir', settings.runs_dir)}, "
            f"regression seeds {said('regressions', regression)}, shrink "
            f"{said('shrink', f'{settings.shrink_s:g} s')}")


# ---- the marker and seeds --------------------------------------------------------------

def marker_spec(node: pytest.Item | pytest.Collector | Any) -> MarkerSpec:
    """What the ``chaos`` markers on ``node`` say, the closest one winning per argument.

    Raises:
        pytest.fail: an unknown argument or a bad value.
    """
    merged: dict[str, Any] = {}
    for mark in node.iter_markers(name="chaos"):
        if mark.args:
            pytest.fail(f"{node.nodeid}: @pytest.mark.chaos takes keyword arguments only "
                        f"(experiment=, backend=, seeds=, nodes=), found {mark.args!r}",
                        pytrace=False)
        for key, value in mark.kwargs.items():
            merged.setdefault(key, value)
    try:
        return MarkerSpec.of(merged, node.nodeid)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """A test whose ``chaos`` marker names an experiment uses the ``chaos`` fixture even
    when it does not ask for it (the plugin runs the experiment)."""
    is_test = getattr(collector, "funcnamefilter", lambda n: n.startswith("test"))
    if not inspect.isfunction(obj) or not is_test(name):
        return
    marks = [m for m in getattr(obj, "pytestmark", []) if getattr(m, "name", "") == "chaos"]
    marks += list(collector.iter_markers(name="chaos"))
    if any("experiment" in m.kwargs for m in marks):
        pytest.mark.usefixtures("chaos")(obj)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per seed for every test that uses ``chaos``: its regression seeds first,
    then the marker's seeds, else the session's."""
    if "chaos_seed" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers(name="parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if "chaos_seed" in (names.replace(" ", "").split(",") if isinstance(names, str)
                            else list(names)):
            return
    session = session_of(metafunc.config)
    spec = marker_spec(metafunc.definition)
    seeds = session.seeds_for(regressions.base_id(metafunc.definition.nodeid),
                              spec.seeds or session.settings.seeds)
    metafunc.parametrize("chaos_seed", seeds, ids=[f"seed-{s}" for s in seeds])


# ---- fixtures --------------------------------------------------------------------------

@pytest.fixture
def chaos_seed(request: pytest.FixtureRequest) -> int:
    """This test's seed (tests that use ``chaos`` are parametrized over their seeds)."""
    return session_of(request.config).settings.seeds[0]


@pytest.fixture
def chaos(request: pytest.FixtureRequest, chaos_seed: int) -> Iterator[Chaos]:
    """Run chaos experiments in a test: ``chaos.run("isolate-leader")`` returns the run's
    ``ChaosResult`` and fails the test, with the whole story, when it does not pass."""
    session = session_of(request.config)
    spec = marker_spec(request.node)
    made = Chaos(session=session, seed=chaos_seed,
                 backend=spec.backend or session.settings.backend, marker=spec,
                 test_id=request.node.nodeid, properties=request.node.user_properties)
    request.node.stash[CHAOS_KEY] = made
    yield made


def _cluster_scope(fixture_name: str, config: pytest.Config) -> Any:
    return session_of(config).settings.cluster_scope


@pytest.fixture(scope=_cluster_scope)
def _chaoslab_cluster_pool(request: pytest.FixtureRequest) -> Iterator[ClusterPool]:
    """The clusters of one scope (``--chaoslab-cluster-scope``), stopped when it ends."""
    settings = session_of(request.config).settings
    pool = ClusterPool(seed=settings.seeds[0], docker_project=settings.docker_project)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def chaos_cluster(
    request: pytest.FixtureRequest, _chaoslab_cluster_pool: ClusterPool
) -> Iterator[ChaosCluster]:
    """A running cluster (local or docker; size from ``@pytest.mark.chaos(nodes=...)``,
    default 5) with an agreed leader. Every fault is healed after the test."""
    from experiments.errors import BackendFailure, BadInput  # noqa: PLC0415 - lazy

    session = session_of(request.config)
    spec = marker_spec(request.node)
    backend = spec.backend or session.settings.backend
    if backend == "sim":
        reason = ("chaos_cluster needs a real cluster (local or docker): the simulator's time "
                  "advances only inside an experiment; use the chaos fixture there")
        if spec.backend == "sim":
            pytest.fail(f"@pytest.mark.chaos(backend='sim'): {reason}", pytrace=False)
        pytest.skip(f"--chaoslab-backend sim: {reason}")
    try:
        cluster = _chaoslab_cluster_pool.get(backend, spec.nodes or DEFAULT_NODES)
        cluster.wait_for_leader()
    except (BackendFailure, BadInput, TimeoutError) as exc:
        pytest.fail(f"chaos_cluster ({backend}): {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        reports = request.node.stash.get(REPORTS_KEY, {})
        failed = any(r.failed for r in reports.values())
        try:
            cluster.after_test()
        except Exception:
            # Healing failed: out of the pool, so the next test gets a fresh cluster.
            _chaoslab_cluster_pool.keep(cluster)
            with contextlib.suppress(Exception):
                cluster.backend.stop()
            raise
        if failed and session.settings.keep:
            _chaoslab_cluster_pool.keep(cluster)
            session.kept.append(f"{request.node.nodeid}: {cluster.where}")


# ---- running, reporting ----------------------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After the body of a test whose marker names an experiment and that ran nothing
    itself, run that experiment."""
    result = yield
    made = item.stash.get(CHAOS_KEY, None)
    if made is not None and made.marker.experiment is not None and not made.results:
        try:
            made.run()
        except ChaosRunFailed as failure:
            raise ChaosRunFailed(failure.result, automatic=True) from None
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report (for ``chaos_cluster``'s teardown); print a run the plugin
    made itself as plain text; record the seed of a test that failed on the simulator."""
    report: pytest.TestReport = yield
    item.stash.setdefault(REPORTS_KEY, {})[report.when] = report
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, ChaosRunFailed) and error.automatic:
        report.longrepr = str(error)
    made = item.stash.get(CHAOS_KEY, None)
    if report.when == "call" and report.failed and made is not None:
        ran = [r for r in made.results if r.backend == "sim" and r.seed == made.seed]
        if ran and not any(r.regression is not None for r in ran):
            made.session.record(item.nodeid, ran[-1])
    return report


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ExperimentFile | None:
    """Experiment files the user asked for (see ``collect``)."""
    if wanted(file_path, parent.config, session_of(parent.config)):
        return ExperimentFile.from_parent(parent, path=file_path)
    return None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config
                            ) -> None:
    """Failed runs (report, reproduce), regression seeds added, clusters kept."""
    session = session_of(config)
    if not (session.failed or session.recorded or session.kept):
        return
    write = terminalreporter.write_line
    terminalreporter.section("chaoslab")
    for result in session.failed:
        write(f"{result.verdict.upper()} {result.experiment} on {result.backend} seed "
              f"{result.seed}: {result.report or 'no run directory'}")
        write(f"    reproduce: {result.command}")
        if result.shrunk is not None and result.shrunk.path is not None:
            write(f"    shrunk:    {result.shrunk.path}")
    if session.recorded:
        write(f"regression seeds added to {session.settings.regressions} (commit it):")
        for key, seed in session.recorded:
            write(f"    {key} {seed}")
    for kept in session.kept:
        write(f"kept for inspection: {kept}")
