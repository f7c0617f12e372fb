"""The plugin as users meet it, through pytester: options, markers, fixtures, experiment
files, failure output, JUnit properties, regression seeds and shrinking."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.pytest_plugin.settings import OPTIONS

pytest_plugins = ["pytester"]

TINY = repr({"name": "tiny", "cluster": {"nodes": 3},
             "workload": {"clients": 3, "keys": 1, "rate": 30}, "duration": "3s",
             "expect": {"linearizable": True}})
BUG = repr({"name": "stale-reads",
            "cluster": {"nodes": 3, "unsafe": "leader-reads-without-readindex",
                        "allow-unsafe": True},
            "workload": {"clients": 4, "keys": 1, "rate": 200,
                         "mix": {"read": 3, "write": 1, "cas": 0}},
            "duration": "5s",
            "nemesis": [{"at": "1s", "fault": "partition-leader", "for": "3s"}],
            "expect": {"linearizable": True}})
"""Python source of two experiments for the inner test files: one that passes, one with a
seeded bug (an isolated leader serves reads) that fails."""
TINY_YAML = """\
name: tiny-file
cluster: {nodes: 3}
workload: {clients: 3, keys: 1, rate: 30}
duration: 3s
expect: {linearizable: true}
"""


@pytest.fixture(autouse=True)
def _no_outer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner sessions see none of this session's CHAOSLAB_* settings."""
    for option in OPTIONS:
        monkeypatch.delenv(option.env, raising=False)


def _settings_probe(pytester: pytest.Pytester, marker: str = "") -> None:
    pytester.makepyfile(test_probe=f"""
        import pytest

        {marker}
        def test_probe(chaos):
            print(f"BACKEND={{chaos.backend}} SEED={{chaos.seed}}")
    """)


class TestSettings:
    """Command line, then environment, then ini, then default; a marker beats them all."""

    @pytest.mark.parametrize(
        ("args", "env", "expected"),
        [
            ([], None, "BACKEND=sim SEED=7"),
            ([], "docker", "BACKEND=docker SEED=7"),
            (["--chaoslab-backend", "local"], "docker", "BACKEND=local SEED=7"),
        ],
    )
    def test_precedence(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                        args: list[str], env: str | None, expected: str) -> None:
        """The ini file says sim and seed 7; the environment and the command line win."""
        pytester.makeini("[pytest]\nchaoslab_backend = sim\nchaoslab_seeds = 7\n")
        _settings_probe(pytester)
        if env is not None:
            monkeypatch.setenv("CHAOSLAB_BACKEND", env)

        result = pytester.runpytest("-s", *args)

        result.stdout.fnmatch_lines([f"*{expected}*"])

    def test_a_marker_beats_the_command_line(self, pytester: pytest.Pytester) -> None:
        """@pytest.mark.chaos(backend=..., seeds=...) wins, one test per seed."""
        _settings_probe(pytester, '@pytest.mark.chaos(backend="sim", seeds=[4, 5])')

        result = pytester.runpytest("-s", "-v", "--chaoslab-backend", "docker",
                                    "--chaoslab-seeds", "1..3")

        result.stdout.fnmatch_lines(["*test_probe?seed-4?*BACKEND=sim SEED=4*",
                                     "*test_probe?seed-5?*BACKEND=sim SEED=5*"])
        result.assert_outcomes(passed=2)

    def test_the_header_says_where_each_setting_came_from(self, pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
        """The session header shows the settings in force and their sources."""
        monkeypatch.setenv("CHAOSLAB_SEEDS", "1..3")
        _settings_probe(pytester)

        result = pytester.runpytest("--chaoslab-backend", "sim", "--co")

        result.stdout.fnmatch_lines(["chaoslab: backend sim (command line), seeds 1,2,3 "
                                     "(environment), runs in *runs, regression seeds "
                                     "*chaoslab-regressions.txt, shrink 60 s"])

    def test_a_bad_value_stops_the_session(self, pytester: pytest.Pytester) -> None:
        """A bad setting is a usage error that names it."""
        _settings_probe(pytester)

        result = pytester.runpytest("--chaoslab-seeds", "a..b")

        assert pytest.ExitCode.USAGE_ERROR == result.ret
        result.stderr.fnmatch_lines(["*chaoslab: --chaoslab-seeds='a..b': expected a seed N "
                                     "or a range A..B, found 'a..b'"])

    def test_a_bad_marker_is_a_collection_error(self, pytester: pytest.Pytester) -> None:
        """An unknown marker argument is reported against the test."""
        _settings_probe(pytester, '@pytest.mark.chaos(backnd="sim")')

        result = pytester.runpytest()

        result.stdout.fnmatch_lines(["*@pytest.mark.chaos takes experiment=, backend=, seeds= "
                                     "and nodes=; found backnd*"])
        assert 0 != result.ret


class TestChaosFixture:
    """chaos.run(): results for the test, the whole story when a run fails."""

    def test_a_passing_run_and_its_results(self, pytester: pytest.Pytester) -> None:
        """The test sees verdicts, availability and the run directory."""
        pytester.makepyfile(f"""
            import pytest

            @pytest.mark.chaos(backend="sim", seeds="1..2")
            def test_tiny(chaos):
                result = chaos.run({TINY})
                assert result.passed and result.check("linearizable").held
                assert result.availability("quiet") > 0.9
                assert result.report.exists() and result.junit.exists()
        """)

        pytester.runpytest().assert_outcomes(passed=2)

    def test_a_failing_run_tells_the_whole_story(self, pytester: pytest.Pytester) -> None:
        """What failed, measured against expected, the files, the commands, the seed
        recorded."""
        pytester.makepyfile(f"""
            import pytest

            @pytest.mark.chaos(backend="sim", seeds=3)
            def test_bug(chaos):
                chaos.run({BUG})
        """)

        result = pytester.runpytest("--chaoslab-shrink", "0")

        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([
            "E * chaos experiment 'stale-reads' failed on sim with seed 3: 1 expectation(s) "
            "did not hold (linearizable)",
            "E *✗ linearizable * measured false, expected true",
            "E *no order of the operations on key k0 explains: process * read k0 -> *",
            "E *run directory: */runs/stale-reads/*-sim-3",
            "E *report:        */runs/stale-reads/*-sim-3/report.html",
            "E *reproduce:     chaoslab run */experiment.yaml --backend sim --seed 3",
            "E *  or:          pytest 'test_a_failing_run_tells_the_whole_story.py::"
            "test_bug?seed-3?'",
            "E *regression:    seed 3 recorded in */chaoslab-regressions.txt*",
        ])
        lines = (pytester.path / "chaoslab-regressions.txt").read_text().splitlines()
        assert "test_a_failing_run_tells_the_whole_story.py::test_bug 3  # stale-reads: " \
               "linearizable" == lines[-1]

    def test_recorded_seeds_run_first(self, pytester: pytest.Pytester) -> None:
        """A seed in the regression file comes before the test's usual seeds."""
        pytester.makepyfile(test_seeds="""
            def test_x(chaos):
                pass
        """)
        (pytester.path / "chaoslab-regressions.txt").write_text("test_seeds.py::test_x 42\n")

        result = pytester.runpytest("--co", "-q", "--chaoslab-seeds", "1..2")

        result.stdout.fnmatch_lines(["test_seeds.py::test_x[seed-42]",
                                     "test_seeds.py::test_x[seed-1]",
                                     "test_seeds.py::test_x[seed-2]"])

    def test_a_failing_simulator_run_is_shrunk(self, pytester: pytest.Pytester) -> None:
        """The smallest failing experiment is saved beside the run and named in the output."""
        pytester.makepyfile(f"""
            import pytest

            @pytest.mark.chaos(backend="sim", seeds=1)
            def test_bug(chaos):
                chaos.run({BUG})
        """)

        result = pytester.runpytest("--chaoslab-shrink", "5")

        result.stdout.fnmatch_lines(["E *shrunk:        * still failing linearizable:",
                                     "E * -> * operations, *",
                                     "E *experiment: */runs/stale-reads/*-sim-1/shrunk.yaml"])
        (shrunk,) = pytester.path.glob("runs/stale-reads/*-sim-1/shrunk.yaml")
        assert (shrunk.parent / "shrunk" / "history.jsonl").exists()

    def test_check_false_returns_a_failing_run(self, pytester: pytest.Pytester) -> None:
        """With check=False the test looks at the failing run itself."""
        pytester.makepyfile(f"""
            import pytest

            @pytest.mark.chaos(backend="sim")
            def test_bug_is_caught(chaos):
                result = chaos.run({BUG}, check=False)
                assert "fail" == result.verdict
                assert not result.check("linearizable").held
        """)

        result = pytester.runpytest()

        result.assert_outcomes(passed=1)
        assert not (pytester.path / "chaoslab-regressions.txt").exists()

    def test_nothing_to_run(self, pytester: pytest.Pytester) -> None:
        """chaos.run() without an experiment and without a marker naming one says so."""
        pytester.makepyfile("""
            def test_x(chaos):
                chaos.run()
        """)

        result = pytester.runpytest()

        result.stdout.fnmatch_lines(["*chaos.run() needs an experiment*"])

    def test_a_backend_that_cannot_run_it(self, pytester: pytest.Pytester) -> None:
        """A fault the backend cannot do fails the test before anything starts."""
        pytester.makepyfile("""
            def test_x(chaos):
                chaos.run({"name": "bw", "duration": "5s",
                           "nemesis": [{"at": "1s", "fault": "bandwidth", "for": "1s"}]})
        """)

        result = pytester.runpytest("--chaoslab-backend", "sim")

        result.stdout.fnmatch_lines(["*experiment 'bw' cannot run on the sim backend: nemesis "
                                     "bandwidth: the simulator has no bandwidth model*"])


class TestMarker:
    """@pytest.mark.chaos(experiment=...) runs the experiment when the test body does not."""

    def test_the_experiment_runs_after_the_body(self, pytester: pytest.Pytester) -> None:
        """A marked test that runs nothing itself runs the marker's experiment."""
        pytester.makepyfile(f"""
            import pytest

            @pytest.mark.chaos(experiment={TINY}, backend="sim")
            def test_tiny():
                pass

            @pytest.mark.chaos(experiment={BUG}, backend="sim", seeds=2)
            def test_bug():
                pass
        """)

        result = pytester.runpytest("--chaoslab-shrink", "0")

        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines([
            "*_ test_bug?seed-2? _*",
            "chaos experiment 'stale-reads' failed on sim with seed 2: *",
        ])
        assert list(pytester.path.glob("runs/tiny/*-sim-1/report.html"))


class TestJunit:
    """--junitxml gets each run's properties."""

    def test_properties(self, pytester: pytest.Pytester) -> None:
        """Experiment, backend, seed, verdict, run directory, report, command, checks."""
        pytester.makepyfile(f"""
            def test_tiny(chaos):
                chaos.run({TINY})
        """)

        pytester.runpytest("--chaoslab-backend", "sim", "--junitxml", "out.xml")
        text = (pytester.path / "out.xml").read_text()

        for name in ("chaoslab_experiment", "chaoslab_backend", "chaoslab_seed",
                     "chaoslab_verdict", "chaoslab_run_dir", "chaoslab_report",
                     "chaoslab_command", "chaoslab_check_linearizable"):
            assert f'<property name="{name}"' in text, name


class TestExperimentFiles:
    """YAML experiments are tests only when the user asks for them."""

    @pytest.fixture
    def files(self, pytester: pytest.Pytester) -> Path:
        """A folder with an experiment, a compose file and a broken experiment; and a
        tests folder the ini names."""
        folder = pytester.mkdir("chaos")
        (folder / "tiny.yaml").write_text(TINY_YAML)
        (folder / "compose.yml").write_text("services: {a: {image: x}}\n")
        pytester.mkdir("tests")
        pytester.makepyfile(**{"tests/test_nothing": "def test_ok():\n    pass\n"})
        pytester.makeini("[pytest]\ntestpaths = tests chaos\n")
        return folder

    def test_not_collected_by_default(self, pytester: pytest.Pytester, files: Path) -> None:
        """A plain run (testpaths) collects no experiment file."""
        result = pytester.runpytest("--co", "-q")

        result.stdout.fnmatch_lines(["tests/test_nothing.py::test_ok", "1 test collected*"])

    def test_a_folder_named_on_the_command_line(self, pytester: pytest.Pytester,
                                                files: Path) -> None:
        """One test per experiment and seed; other YAML is left alone."""
        result = pytester.runpytest("chaos", "--chaoslab-backend", "sim",
                                    "--chaoslab-seeds", "1..2", "-v")

        result.stdout.fnmatch_lines(["chaos/tiny.yaml::tiny-file?seed-1? PASSED*",
                                     "chaos/tiny.yaml::tiny-file?seed-2? PASSED*"])
        result.assert_outcomes(passed=2)

    def test_the_ini_switch(self, pytester: pytest.Pytester, files: Path) -> None:
        """chaoslab_collect = true collects experiment files met anywhere."""
        pytester.makeini("[pytest]\ntestpaths = tests chaos\nchaoslab_collect = true\n")

        result = pytester.runpytest("--co", "-q")

        result.stdout.fnmatch_lines(["tests/test_nothing.py::test_ok",
                                     "chaos/tiny.yaml::tiny-file[seed-1]"])

    def test_a_broken_experiment_is_a_collection_error(self, pytester: pytest.Pytester,
                                                       files: Path) -> None:
        """Each problem with its line and column."""
        (files / "broken.yaml").write_text("name: broken\nduration: 3s\nworkload: "
                                           "{clients: 0}\n")

        result = pytester.runpytest("chaos", "--co")

        result.stdout.fnmatch_lines(["*broken.yaml:3:21: workload.clients: *"])
        assert 0 != result.ret

    def test_a_run_directory_replays_its_seed(self, pytester: pytest.Pytester,
                                              files: Path) -> None:
        """A resolved experiment.yaml runs with the seed written in it."""
        pytester.runpytest("chaos/tiny.yaml", "--chaoslab-backend", "sim",
                           "--chaoslab-seeds", "9")
        (resolved,) = pytester.path.glob("runs/tiny-file/*-sim-9/experiment.yaml")

        result = pytester.runpytest(str(resolved), "--chaoslab-backend", "sim", "--co", "-q")

        result.stdout.fnmatch_lines(["*experiment.yaml::tiny-file?seed-9?"])

    def test_a_failing_file_is_printed_without_a_traceback(self, pytester: pytest.Pytester,
                                                           files: Path) -> None:
        """The failure is the run's story, nothing of chaoslab's code."""
        (files / "tiny.yaml").write_text(TINY_YAML.replace(
            "expect: {linearizable: true}", "expect: {availability: {quiet: '<= 0.5'}}"))

        result = pytester.runpytest("chaos", "--chaoslab-backend", "sim")

        result.stdout.fnmatch_lines([
            "*_ tiny-file seed 1 on sim _*",
            "chaos experiment 'tiny-file' failed on sim with seed 1: 1 expectation(s) did not "
            "hold (availability.quiet)",
            "  ✗ availability.quiet  measured *, expected <= 0.5",
        ])
        assert "Traceback" not in result.stdout.str()


def test_the_plugin_is_registered_by_installing_chaoslab(pytester: pytest.Pytester) -> None:
    """pytest loads it through the pytest11 entry point (no -p needed); -p no:chaoslab
    turns it off."""
    on = pytester.parseconfig()
    off = pytester.parseconfig("-p", "no:chaoslab")

    assert (True, False) == (on.pluginmanager.hasplugin("chaoslab"),
                             off.pluginmanager.hasplugin("chaoslab"))
