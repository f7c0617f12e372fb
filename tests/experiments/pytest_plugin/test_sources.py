"""Where a test's experiment comes from: catalog names, files, dicts, objects, the builder."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments import catalog
from experiments.pytest_plugin.sources import build_experiment, resolve
from experiments.spec import Experiment, ExperimentError

SMALL = {"name": "small", "duration": "5s", "cluster": {"nodes": 3},
         "expect": {"lost_writes": 0}}


class TestResolve:
    """Every kind of source gives a validated experiment and, for files, the file."""

    def test_a_catalog_name(self) -> None:
        """A bare name is a catalog experiment."""
        experiment, source = resolve("kill-leader")

        assert ("kill-leader", catalog.path("kill-leader")) == (experiment.name, source)

    def test_a_file(self, tmp_path: Path) -> None:
        """A path is read as an experiment file."""
        path = tmp_path / "mine.yaml"
        path.write_text("name: mine\nduration: 3s\n")

        experiment, source = resolve(path)

        assert ("mine", path) == (experiment.name, source)

    def test_a_dict_with_underscores_or_dashes(self) -> None:
        """A dict takes the file's fields; lost_writes and lost-writes both work."""
        experiment, source = resolve(SMALL)

        assert ("small", 3, "== 0", None) == (
            experiment.name, experiment.cluster.nodes, str(experiment.expect.lost_writes), source)

    def test_an_unknown_name_lists_the_catalog(self) -> None:
        """A name that is neither a file nor a catalog experiment says what there is."""
        with pytest.raises(ExperimentError) as raised:
            resolve("isolate-leadr")

        assert "'isolate-leadr': not an experiment file, nor a catalog experiment" in \
            str(raised.value)
        assert "isolate-leader" in str(raised.value)

    def test_a_bad_dict_names_the_field(self) -> None:
        """Each problem is one line: the field's path, what was wrong, what was found."""
        bad = {**SMALL, "workload": {"clients": 0, "colour": "red"}}

        with pytest.raises(ExperimentError) as raised:
            resolve(bad)

        assert [
            "<experiment dict>: workload.clients: Input should be greater than or equal to 1, "
            "found 0",
            "<experiment dict>: workload.colour: Extra inputs are not permitted, found 'red'",
        ] == list(raised.value.problems)

    def test_a_schedule_problem_points_at_the_fault(self) -> None:
        """A whole-model check that blames one fault names it."""
        bad = {**SMALL, "nemesis": [{"at": "4s", "fault": "kill", "for": "3s"}]}

        with pytest.raises(ExperimentError) as raised:
            resolve(bad)

        assert raised.value.problems[0].startswith("<experiment dict>: nemesis.0: the fault")


class TestBuild:
    """build_experiment starts from a source and changes a few fields."""

    def test_nested_fields_are_merged(self) -> None:
        """Changing workload.clients keeps the other workload fields."""
        experiment = build_experiment("isolate-leader", duration="30s",
                                      workload={"clients": 4})
        base, _ = resolve("isolate-leader")

        assert (30.0, 4, base.workload.keys, base.nemesis) == (
            experiment.duration, experiment.workload.clients, experiment.workload.keys,
            experiment.nemesis)

    def test_from_scratch(self) -> None:
        """Without a base, the changes are the whole experiment."""
        assert isinstance(build_experiment(name="x", duration="1s"), Experiment)

    def test_lists_are_replaced(self) -> None:
        """A new nemesis replaces the old schedule."""
        experiment = build_experiment("isolate-leader", nemesis=[])

        assert () == experiment.nemesis
