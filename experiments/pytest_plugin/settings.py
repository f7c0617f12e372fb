"""The plugin's settings: one value per setting, from the command line, the environment, the
ini file or the default, in that order of precedence; a ``chaos`` marker on a test beats
them all for that test (as ``pytest.mark.timeout`` does).

Rules: pure, no IO: the caller hands in the command-line value, the environment and the
ini value. A bad value is a ``pytest.UsageError`` that names the value, where it came from
and what was expected. Relative paths are resolved against the directory that makes
sense for their source (the invocation directory for the command line and the
environment, the ini file's directory for the ini file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import pytest

BACKENDS: Final = ("sim", "local", "docker")
"""The runner's backends (``experiments.backends.BACKENDS``, repeated so that loading the
plugin imports nothing heavy)."""
SCOPES: Final = ("function", "class", "module", "package", "session")
MAX_SEEDS: Final = 100_000
Source = Literal["command line", "environment", "ini", "default"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    """One setting: its flag, ini key, environment variable, default and help."""

    name: str
    help: str
    default: str
    flag_takes_value: bool = True
    """False: a flag that switches the setting on (``--chaoslab-keep``)."""

    @property
    def flag(self) -> str:
        """``--chaoslab-backend``."""
        return "--chaoslab-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        """``chaoslab_backend``."""
        return "chaoslab_" + self.name

    @property
    def env(self) -> str:
        """``CHAOSLAB_BACKEND``."""
        return "CHAOSLAB_" + self.name.upper()


OPTIONS: Final = (
    Option(name="backend", default="local",
           help="where chaos experiments run: sim (the deterministic simulator), local "
           "(node processes behind the embedded Toxiproxy) or docker (the compose cluster)"),
    Option(name="seeds", default="1",
           help="the seeds every chaos test runs with: N, A..B or a list (1,5,10..12); one "
           "test per seed"),
    Option(name="runs_dir", default="runs",
           help="where run directories (history, results, report.html, junit.xml) go"),
    Option(name="keep", default="false", flag_takes_value=False,
           help="keep the clusters of failed tests for inspection (local, docker)"),
    Option(name="collect", default="false", flag_takes_value=False,
           help="collect every experiment file (*.yaml, *.yml) met during collection, not "
           "only those named on the command line"),
    Option(name="regressions", default="chaoslab-regressions.txt",
           help="the regression seeds file: failing simulator seeds are added to it and "
           "replayed first (commit it); 'off' turns it off"),
    Option(name="shrink", default="60",
           help="seconds to spend shrinking a failing simulator run to a smaller failing "
           "experiment (0: do not shrink)"),
    Option(name="docker_project", default="",
           help="docker: a running compose project for chaos_cluster to use and leave running "
           "(default: start one of its own); experiment runs always start their own, as "
           "every run needs a fresh store"),
    Option(name="cluster_scope", default="module",
           help="how long a chaos_cluster lives: function, class, module, package or "
           "session (faults are healed after every test either way)"),
)
BY_NAME: Final = {o.name: o for o in OPTIONS}


@dataclass(frozen=True, slots=True, kw_only=True)
class Raw:
    """One setting's text and where it came from."""

    text: str
    source: Source
    base: Path
    """The directory a relative path in ``text`` is relative to."""

    def where(self, option: Option) -> str:
        """How the user wrote it: ``--chaoslab-seeds 1..x (command line)``."""
        spelled = {
            "command line": option.flag,
            "environment": f"${option.env}",
            "ini": f"ini option {option.ini}",
            "default": f"the default of {option.ini}",
        }[self.source]
        return f"{spelled}={self.text!r}"


def pick(
    option: Option,
    *,
    cli: str | bool | None,
    environ: Mapping[str, str],
    ini: object,
    invocation_dir: Path,
    ini_dir: Path,
) -> Raw:
    """The winning value of ``option``: command line, then environment, then ini, then default.

    Args:
        option: the setting.
        cli: its command-line value (None: not given; True for a flag given).
        environ: the environment.
        ini: its ini value (None or "": not set; TOML may give a bool or a number).
        invocation_dir: where pytest was started (relative command-line and environment
            paths start here).
        ini_dir: the ini file's directory (relative ini paths start here).
    """
    if cli is not None and cli is not False:
        return Raw(text="true" if cli is True else str(cli), source="command line",
                   base=invocation_dir)
    env = environ.get(option.env)
    if env is not None and env.strip():
        return Raw(text=env.strip(), source="environment", base=invocation_dir)
    if ini is not None and ini != "" and not (isinstance(ini, list) and not ini):
        text = str(ini).lower() if isinstance(ini, bool) else str(ini)
        return Raw(text=text.strip(), source="ini", base=ini_dir)
    return Raw(text=option.default, source="default", base=ini_dir)


def _bad(option: Option, raw: Raw, expected: str) -> pytest.UsageError:
    return pytest.UsageError(f"chaoslab: {raw.where(option)}: expected {expected}")


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"7"``, ``"1..5"`` or a comma-separated list of both, in order, without repeats.

    Raises:
        ValueError: anything else (the message says what was found).
    """
    seeds: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", part)
        if match is None:
            msg = f"a seed N or a range A..B, found {part.strip()!r}"
            raise ValueError(msg)
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first:
            msg = f"a range A..B with A <= B, found {part.strip()!r}"
            raise ValueError(msg)
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            msg = f"at most {MAX_SEEDS:,} seeds"
            raise ValueError(msg)
        seeds.extend(range(first, last + 1))
    return tuple(dict.fromkeys(seeds))


def parse_bool(text: str) -> bool | None:
    """``true/false, yes/no, on/off, 1/0`` (None: none of them)."""
    return {"true": True, "yes": True, "on": True, "1": True,
            "false": False, "no": False, "off": False, "0": False}.get(text.strip().lower())


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The session's settings (a ``chaos`` marker may override backend and seeds per test)."""

    backend: str = "local"
    seeds: tuple[int, ...] = (1,)
    runs_dir: Path = Path("runs")
    keep: bool = False
    collect: bool = False
    regressions: Path | None = None
    """None: regression seeds are neither read nor written."""
    shrink_s: float = 60.0
    cluster_scope: str = "module"
    docker_project: str | None = None
    sources: Mapping[str, Source] | None = None
    """Where each setting came from."""


def settings_from(raws: Mapping[str, Raw]) -> Settings:
    """Validate every setting (see the module docstring).

    Raises:
        pytest.UsageError: a value is wrong: which, where it came from, what was expected.
    """
    def get(name: str) -> tuple[Option, Raw]:
        return BY_NAME[name], raws[name]

    option, raw = get("backend")
    backend = raw.text.strip().lower()
    if backend not in BACKENDS:
        raise _bad(option, raw, "one of " + ", ".join(BACKENDS))
    option, raw = get("seeds")
    try:
        seeds = parse_seeds(raw.text)
    except ValueError as exc:
        raise _bad(option, raw, str(exc)) from None
    option, raw = get("runs_dir")
    if not raw.text.strip():
        raise _bad(option, raw, "a directory")
    runs_dir = raw.base / Path(raw.text.strip()).expanduser()
    flags = {}
    for name in ("keep", "collect"):
        option, raw = get(name)
        value = parse_bool(raw.text)
        if value is None:
            raise _bad(option, raw, "true or false")
        flags[name] = value
    option, raw = get("regressions")
    text = raw.text.strip()
    regressions = None if text.lower() in ("", "off", "none") else \
        raw.base / Path(text).expanduser()
    option, raw = get("shrink")
    try:
        shrink_s = float(raw.text)
    except ValueError:
        raise _bad(option, raw, "seconds (0: do not shrink)") from None
    if not 0 <= shrink_s <= 86_400:
        raise _bad(option, raw, "seconds between 0 and 86400")
    option, raw = get("cluster_scope")
    scope = raw.text.strip().lower()
    if scope not in SCOPES:
        raise _bad(option, raw, "one of " + ", ".join(SCOPES))
    option, raw = get("docker_project")
    project = raw.text.strip() or None
    if project is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", project):
        raise _bad(option, raw, "a compose project name (lowercase letters, digits, - and _)")
    return Settings(
        backend=backend,
        seeds=seeds,
        runs_dir=runs_dir,
        keep=flags["keep"],
        collect=flags["collect"],
        regressions=regressions,
        shrink_s=shrink_s,
        cluster_scope=scope,
        docker_project=project,
        sources={name: raw.source for name, raw in raws.items()},
    )
