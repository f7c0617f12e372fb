"""Read experiment files: YAML with positions, validated into an ``Experiment``.

Rules: the only IO is reading the file named. Every problem is reported as
``file:line:column: field: what was expected, what was found``, one per problem, in a
single ``ExperimentError`` (exit 2 for the CLI). ruamel.yaml keeps the position of every
key and item; pydantic's error locations are mapped back onto them.
"""

from __future__ import annotations

import io
import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from experiments.errors import BadInput
from experiments.spec.model import SCHEMA_TAGS, Experiment

MAX_FILE_BYTES = 1024 * 1024
"""An experiment file is a page of YAML; anything bigger is a mistake."""
_RELOCATE = re.compile(r"^@([\w.\-]+): (.*)$", re.DOTALL)


class ExperimentError(BadInput):
    """An experiment file is invalid (the user's input); ``problems`` holds one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


def load_experiment(path: Path | str) -> Experiment:
    """Read and validate one experiment file.

    Raises:
        ExperimentError: the file is unreadable, not YAML, or breaks the schema.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ExperimentError([f"{path}: cannot read it: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ExperimentError([f"{path}: larger than {MAX_FILE_BYTES} bytes: not an experiment"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExperimentError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) \
            from None
    return parse_experiment(text, source=str(path))


def parse_experiment(text: str, *, source: str = "<experiment>") -> Experiment:
    """Validate experiment YAML text (see ``load_experiment``)."""
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        document = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise ExperimentError([f"{where}: not valid YAML: {problem}"]) from None
    except YAMLError as exc:
        raise ExperimentError([f"{source}: not valid YAML: {exc}"]) from None
    if not isinstance(document, CommentedMap):
        found = "an empty file" if document is None else f"a {type(document).__name__}"
        problem = f"{source}:1:1: expected a mapping of experiment keys, found {found}"
        raise ExperimentError([problem])
    try:
        return Experiment.model_validate(_plain(document))
    except ValidationError as exc:
        raise ExperimentError(_problems(exc, document, source)) from None


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists."""
    if isinstance(node, CommentedMap):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    return node


def _position(
    document: CommentedMap, loc: Sequence[str | int], *, at_key: bool = False
) -> tuple[int, int, str]:
    """The deepest position along ``loc`` (1-based line and column) and the dotted path:
    a scalar's value, or (``at_key``, and for containers) the key that holds it."""
    line, column = 1, 1
    node: Any = document
    names: list[str] = []
    for part in loc:
        key: str | int = part
        if isinstance(node, CommentedMap):
            if not isinstance(key, str) or key not in node:
                break
            k_line, k_col, v_line, v_col = node.lc.data[key]
            node = node[key]
            scalar = not at_key and not isinstance(node, CommentedMap | CommentedSeq)
            line, column = (v_line + 1, v_col + 1) if scalar else (k_line + 1, k_col + 1)
            names.append(key)
        elif isinstance(node, CommentedSeq):
            if isinstance(key, str) and key.isdigit():
                key = int(key)
            if not isinstance(key, int) or not 0 <= key < len(node):
                break
            i_line, i_col = node.lc.item(key)
            line, column = i_line + 1, i_col + 1
            names.append(f"[{key}]")
            node = node[key]
        else:
            break
    dotted = ".".join(names).replace(".[", "[")
    return line, column, dotted


def _expected(message: str) -> str:
    """pydantic's "Input should be ..." as "expected ..."."""
    for prefix, replacement in (
        ("Input should be ", "expected "),
        ("String should match pattern ", "expected text matching "),
        ("String should have at most ", "expected at most "),
        ("Tuple should have at least ", "expected at least "),
    ):
        if message.startswith(prefix):
            return replacement + message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


def _found(value: Any) -> str:
    if isinstance(value, CommentedMap | dict):
        return "a mapping"
    if isinstance(value, CommentedSeq | list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problems(exc: ValidationError, document: CommentedMap, source: str) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = [
            p
            for p in error["loc"]
            if not (isinstance(p, str) and (p in SCHEMA_TAGS or "[" in p or "(" in p))
        ]
        message = str(error["msg"]).removeprefix("Value error, ")
        if (moved := _RELOCATE.match(message)) is not None:
            loc += [int(p) if p.isdigit() else p for p in moved.group(1).split(".")]
            message = moved.group(2)
        kind = error["type"]
        if kind == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}{_known_keys(loc[:-1])}"
        elif kind == "missing":
            message = "required, and missing"
        elif kind not in ("value_error", "assertion_error") and "input" in error:
            message = _expected(message) + f", found {_found(error['input'])}"
        line, column, dotted = _position(document, loc, at_key=kind == "extra_forbidden")
        shown = ".".join(str(p) for p in loc).replace(".[", "[") or dotted or "experiment"
        problems.append(f"{source}:{line}:{column}: {shown}: {message}")
    return problems


def _known_keys(loc: Sequence[str | int]) -> str:
    """``" (expected one of: a, b)"`` for the model at ``loc``, when it can be found."""
    target: Any = Experiment
    for part in loc:
        if isinstance(part, int):
            continue
        target = _submodel(target, part)
        if target is None:
            return ""
    keys = [f.alias or name for name, f in target.model_fields.items()]
    return f" (expected one of: {', '.join(keys)})"


def _submodel(model: type[BaseModel], alias: str) -> type[BaseModel] | None:
    """The model type a field holds (through Optional, unions and tuples), if any."""
    for name, field in model.model_fields.items():
        if (field.alias or name) != alias:
            continue
        pending: list[Any] = [field.annotation]
        while pending:
            candidate = pending.pop()
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                return candidate
            pending.extend(typing.get_args(candidate))
    return None
