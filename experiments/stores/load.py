"""Loading a store adapter by name, and refusing an incomplete one.

Rules: an experiment names its store (``cluster: {store: NAME}``) by a short name of
``experiments.stores.names.STORES`` or as ``package.module:Attribute`` (a class,
instantiated without arguments, or an instance) for an adapter of your own, importable
from ``PYTHONPATH`` or the working directory;
``load_store`` imports it and refuses, with a message naming what is missing, an object
that is not a complete ``ProcessStore`` (``experiments.stores.base``).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, cast

from experiments.errors import BadInput
from experiments.stores.base import (
    PROCESS_STORE_ATTRIBUTES,
    PROCESS_STORE_METHODS,
    ProcessStore,
    missing_members,
)
from experiments.stores.names import STORES, check_store_name


def load_store(name: str) -> ProcessStore:
    """The adapter called ``name`` (see the module docstring), checked.

    Raises:
        BadInput: unknown, not importable, or missing part of the adapter API.
    """
    try:
        check_store_name(name)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    path = STORES.get(name, name)
    module_name, _, attribute = path.partition(":")
    here = str(Path.cwd())
    if here not in sys.path:
        # As uvicorn and gunicorn do: an adapter beside the experiment files imports.
        sys.path.append(here)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"store {name!r}: cannot import {module_name}: {exc}"
        raise BadInput(msg) from None
    found: Any = getattr(module, attribute, None)
    if found is None:
        msg = f"store {name!r}: {module_name} has no {attribute}"
        raise BadInput(msg)
    adapter = found() if isinstance(found, type) else found
    missing = missing_members(adapter)
    if missing:
        required = ", ".join(
            [*PROCESS_STORE_ATTRIBUTES, *(f"{m}()" for m in PROCESS_STORE_METHODS)]
        )
        msg = (
            f"store {name!r} ({path}) is not a complete store adapter: it lacks "
            f"{', '.join(missing)}. An adapter defines {required} "
            "(see experiments/stores/base.py and the README's 'Test your own store')"
        )
        raise BadInput(msg)
    return cast(ProcessStore, adapter)
