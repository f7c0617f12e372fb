"""Loading store adapters by name, and refusing incomplete ones (experiments/stores/load.py)."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from experiments.errors import BadInput
from experiments.runner.cap import store_modes
from experiments.spec import ExperimentError, parse_experiment
from experiments.stores.load import load_store

MODULE = "chaoslab_test_adapters"


class HalfStore:
    """An adapter that forgot its client and its status call."""

    name = "half"
    consistency_modes: ClassVar[dict[str, str]] = {"cp": "linearizable"}

    def prepare(self) -> None:
        """Nothing to prepare."""

    def member(self, plan: object) -> object:
        """Never called."""
        raise AssertionError(plan)

    def close(self) -> None:
        """Nothing to close."""


@pytest.fixture(name="adapters")
def fixture_adapters() -> Iterator[str]:
    """A module of adapters, importable by name for the test's duration."""
    module = types.ModuleType(MODULE)
    module.HalfStore = HalfStore  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    yield MODULE
    del sys.modules[MODULE]


class TestLoadStore:
    @pytest.mark.parametrize("name", ["chaoslab", "etcd", "experiments.stores.etcd:EtcdStore"])
    def test_known_and_import_paths_load(self, name: str) -> None:
        """Short names and import paths give a complete adapter."""
        store = load_store(name)

        assert "cp" in store.consistency_modes

    def test_an_adapter_missing_methods_is_refused_naming_them(self, adapters: str) -> None:
        """The message names every missing method and where the API is described."""
        with pytest.raises(BadInput) as caught:
            load_store(f"{adapters}:HalfStore")

        message = str(caught.value)
        assert "lacks status(), client()" in message
        assert "experiments/stores/base.py" in message

    @pytest.mark.parametrize(
        ("name", "fragment"),
        [
            ("mongo", "unknown store 'mongo'"),
            ("no_such_module_here:Store", "cannot import no_such_module_here"),
            ("experiments.stores.etcd:NoSuchStore", "has no NoSuchStore"),
        ],
    )
    def test_bad_names_are_refused(self, name: str, fragment: str) -> None:
        """An unknown name, a module that does not import, a missing attribute."""
        with pytest.raises(BadInput, match=fragment):
            load_store(name)

    def test_the_experiment_file_rejects_an_unknown_store_at_its_line(self) -> None:
        """cluster.store is validated with the file, naming the known stores."""
        with pytest.raises(ExperimentError) as caught:
            parse_experiment("name: x\ncluster: {store: mongo}\nduration: 5s\nnemesis: []\n")

        assert any("chaoslab, etcd" in line for line in caught.value.problems)


class TestCapModes:
    @pytest.mark.parametrize(
        ("store", "modes"),
        [("chaoslab", ("cp", "lease", "stale", "ap")), ("etcd", ("cp", "stale"))],
    )
    def test_cap_compares_every_mode_the_store_offers(
        self, store: str, modes: tuple[str, ...]
    ) -> None:
        """`chaoslab cap --store etcd` without --modes compares linearizable and
        serializable reads; chaoslab's own node, all four modes."""
        assert modes == store_modes(store)


def test_an_adapter_beside_the_experiment_imports_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`store: my_adapter:MyStore` finds my_adapter.py in the directory chaoslab runs in."""
    (tmp_path / "chaoslab_cwd_adapter.py").write_text(
        "from tests.experiments.stores.test_load import HalfStore\n\n"
        "class Whole(HalfStore):\n"
        "    def status(self, addresses, timeout_s):\n        return []\n\n"
        "    def client(self, addresses, settings, consistency):\n        return None\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])

    assert "half" == load_store("chaoslab_cwd_adapter:Whole").name
