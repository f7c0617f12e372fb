"""Where a test's experiment comes from: a catalog name, a file, a dict, or an ``Experiment``;
and ``build_experiment``, which starts from one of them and changes a few fields.

Rules: the only IO is reading the experiment file named. Whatever the source, the result is
a validated ``Experiment``; a bad one is an ``ExperimentError`` with one line per problem,
naming the field (and, for files, the line and column), what was expected and what was
found.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import ValidationError

from experiments import catalog
from experiments.spec import Experiment, ExperimentError, load_experiment
from experiments.spec.model import SCHEMA_TAGS

ExperimentLike: TypeAlias = "Experiment | Mapping[str, Any] | str | os.PathLike[str]"
"""A catalog name (``"isolate-leader"``), a path to a YAML file, a dict of the file's
fields, or an ``Experiment``."""
DICT_SOURCE = "<experiment dict>"


def _key(name: str) -> str:
    """The file's spelling of a field: ``lost_writes`` and ``for_`` become ``lost-writes``
    and ``for``."""
    return name.rstrip("_").replace("_", "-")


def _normalized(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_key(str(k)): _normalized(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(v) for v in value]
    return value


def _merged(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied: mappings are merged key by key, anything else
    (lists included) replaces what was there."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merged(dict(out[key]), value)
        else:
            out[key] = value
    return out


def problems_of(exc: ValidationError, source: str) -> list[str]:
    """pydantic's errors as ``source: field.path: what was wrong, found X`` lines."""
    lines = []
    for error in exc.errors(include_url=False):
        path = [str(p) for p in error["loc"] if str(p) not in SCHEMA_TAGS]
        message = str(error["msg"]).removeprefix("Value error, ")
        if message.startswith("@") and ": " in message:
            where, message = message[1:].split(": ", 1)
            path = where.split(".")
        found = error.get("input")
        tail = "" if error["type"] in ("value_error", "missing") or isinstance(found, dict) \
            else f", found {found!r}"
        lines.append(f"{source}: {'.'.join(path) or '(top level)'}: {message}{tail}")
    return lines


def from_mapping(data: Mapping[str, Any], *, source: str = DICT_SOURCE) -> Experiment:
    """Validate a dict of an experiment file's fields (dashes or underscores in keys).

    Raises:
        ExperimentError: the fields break the schema (one line per problem).
    """
    try:
        return Experiment.model_validate(_normalized(data))
    except ValidationError as exc:
        raise ExperimentError(problems_of(exc, source)) from None


def resolve(spec: ExperimentLike) -> tuple[Experiment, Path | None]:
    """The experiment ``spec`` names, and its file (None for dicts and objects).

    Raises:
        ExperimentError: no such file or catalog experiment, or it is invalid.
    """
    if isinstance(spec, Experiment):
        return spec, None
    if isinstance(spec, Mapping):
        return from_mapping(spec), None
    if isinstance(spec, str) and "/" not in spec and os.sep not in spec and \
            not spec.endswith((".yaml", ".yml")):
        try:
            path = catalog.path(spec)
        except KeyError as exc:
            msg = f"{spec!r}: not an experiment file, nor a catalog experiment ({exc.args[0]})"
            raise ExperimentError([msg]) from None
        return load_experiment(path), path
    if isinstance(spec, str | os.PathLike):
        path = Path(spec)
        return load_experiment(path), path
    msg = (
        f"expected an experiment: a catalog name, a YAML file, a dict or an Experiment; "
        f"found {type(spec).__name__}"
    )
    raise ExperimentError([msg])


def build_experiment(base: ExperimentLike | None = None, /, **changes: Any) -> Experiment:
    """An experiment from ``base`` (a catalog name, file, dict or ``Experiment``; None: from
    scratch) with ``changes`` applied: nested dicts are merged, other values replace.

    For example ``build_experiment("isolate-leader", duration="20s", workload={"clients": 4})``.

    Raises:
        ExperimentError: the result breaks the schema (one line per problem).
    """
    data: dict[str, Any] = {}
    if base is not None:
        experiment, _ = resolve(base)
        data = experiment.model_dump(by_alias=True, mode="json", exclude_none=True)
    return from_mapping(_merged(data, _normalized(changes)))
