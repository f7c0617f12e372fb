"""The plugin's settings: precedence (command line, environment, ini, default) and checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments.pytest_plugin.settings import (
    BY_NAME,
    OPTIONS,
    Raw,
    parse_seeds,
    pick,
    settings_from,
)

HERE = Path("/work/here")
INI = Path("/work/ini")


def _pick(name: str, *, cli: str | bool | None = None, env: str | None = None,
          ini: object = None) -> Raw:
    environ = {} if env is None else {BY_NAME[name].env: env}
    return pick(BY_NAME[name], cli=cli, environ=environ, ini=ini, invocation_dir=HERE,
                ini_dir=INI)


class TestPrecedence:
    """Command line, then environment, then ini, then the default."""

    def test_command_line_beats_everything(self) -> None:
        """--chaoslab-backend wins over the environment and the ini file."""
        raw = _pick("backend", cli="sim", env="docker", ini="local")

        assert ("sim", "command line") == (raw.text, raw.source)

    def test_environment_beats_ini(self) -> None:
        """$CHAOSLAB_BACKEND wins over the ini file."""
        raw = _pick("backend", env="docker", ini="local")

        assert ("docker", "environment") == (raw.text, raw.source)

    def test_ini_beats_default(self) -> None:
        """An ini value wins over the default."""
        raw = _pick("backend", ini="sim")

        assert ("sim", "ini") == (raw.text, raw.source)

    def test_default_when_nothing_is_set(self) -> None:
        """Unset everywhere (an empty environment variable counts as unset): the default."""
        raw = _pick("backend", env="  ", ini="")

        assert ("local", "default") == (raw.text, raw.source)

    def test_a_toml_boolean_in_the_ini_file(self) -> None:
        """chaoslab_keep = true in pyproject.toml arrives as a bool."""
        raw = _pick("keep", ini=True)

        assert ("true", "ini") == (raw.text, raw.source)

    def test_relative_paths_start_where_their_source_is(self) -> None:
        """A command-line path is relative to the invocation directory, an ini one to the
        ini file's directory."""
        from_cli = settings_from({**_all_defaults(), "runs_dir": _pick("runs_dir", cli="out")})
        from_ini = settings_from({**_all_defaults(), "runs_dir": _pick("runs_dir", ini="out")})

        assert (HERE / "out", INI / "out") == (from_cli.runs_dir, from_ini.runs_dir)


def _all_defaults() -> dict[str, Raw]:
    return {o.name: Raw(text=o.default, source="default", base=INI) for o in OPTIONS}


class TestValues:
    """Each setting is checked, and a bad one names itself and its source."""

    def test_defaults(self) -> None:
        """Local backend, seed 1, runs/, regressions file, a minute of shrinking."""
        settings = settings_from(_all_defaults())

        assert ("local", (1,), INI / "runs", INI / "chaoslab-regressions.txt", 60.0,
                "module", False, False, None) == (
            settings.backend, settings.seeds, settings.runs_dir, settings.regressions,
            settings.shrink_s, settings.cluster_scope, settings.keep, settings.collect,
            settings.docker_project)

    @pytest.mark.parametrize(
        ("name", "text", "expected"),
        [
            ("backend", "dockr", "$CHAOSLAB_BACKEND='dockr': expected one of sim, local, docker"),
            ("seeds", "1..x", "$CHAOSLAB_SEEDS='1..x': expected a seed N or a range A..B, "
                              "found '1..x'"),
            ("shrink", "-1", "$CHAOSLAB_SHRINK='-1': expected seconds between 0 and 86400"),
            ("keep", "perhaps", "$CHAOSLAB_KEEP='perhaps': expected true or false"),
            ("cluster_scope", "forever", "$CHAOSLAB_CLUSTER_SCOPE='forever': expected one of "
                                         "function, class, module, package, session"),
            ("docker_project", "My Project", "$CHAOSLAB_DOCKER_PROJECT='My Project': expected a "
                                             "compose project name"),
        ],
    )
    def test_a_bad_value_says_what_and_where(self, name: str, text: str, expected: str) -> None:
        """The error names the variable, its value and what was expected."""
        with pytest.raises(pytest.UsageError) as raised:
            settings_from({**_all_defaults(), name: _pick(name, env=text)})

        assert str(raised.value).startswith(f"chaoslab: {expected}")

    def test_regressions_off(self) -> None:
        """'off' turns the regression seeds file off."""
        settings = settings_from({**_all_defaults(), "regressions": _pick("regressions",
                                                                          cli="off")})

        assert settings.regressions is None


class TestSeeds:
    """N, A..B and lists of both."""

    def test_ranges_and_lists(self) -> None:
        """Ranges are inclusive, order is kept, repeats are dropped."""
        assert (3, 1, 2, 10, 11) == parse_seeds("3, 1..2,10..11,2")

    @pytest.mark.parametrize("text", ["", "a", "5..3", "1...2", "-1", "1..200000"])
    def test_bad_seeds(self, text: str) -> None:
        """Anything else is refused."""
        with pytest.raises(ValueError, match=r"found|at most"):
            parse_seeds(text)

    @given(st.integers(0, 10_000), st.integers(0, 50))
    def test_a_range_is_every_seed_in_it(self, first: int, count: int) -> None:
        """A..B gives exactly A, A+1, ..., B."""
        assert tuple(range(first, first + count + 1)) == parse_seeds(f"{first}..{first + count}")
