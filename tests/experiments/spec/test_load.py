"""Experiment files: the schema, positions in error messages, durations and bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.schedule import NemesisKind
from experiments.spec import (
    ExperimentError,
    RandomNemesis,
    load_experiment,
    parse_bound,
    parse_duration,
    parse_experiment,
)

CATALOG = Path(__file__).resolve().parents[3] / "experiments" / "catalog"

DESIGN_EXAMPLE = """\
name: isolate-leader                 # required; lowercase, digits, dashes
description: The leader is cut off alone; a new one takes over; the old one must not serve.
cluster: {nodes: 5, consistency: cp}  # cp | lease | stale | ap
workload: {kind: register, clients: 10, keys: 3, rate: 100, mix: {read: 2, write: 2, cas: 1}}
duration: 60s                        # the whole run, recovery tail included
nemesis:                             # a fixed schedule ...
  - {at: 10s, fault: partition-leader, for: 10s}
  - {at: 30s, fault: kill, target: leader, for: 5s}
  - {at: 40s, fault: latency, ms: 200, jitter: 50, for: 5s}
expect:
  linearizable: true
  lost-writes: 0
  availability: {quiet: ">= 0.95", majority: ">= 0.8", minority: "<= 0.05"}
  recovery: "<= 5s"                  # first ok write after the last heal
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ExperimentError) as caught:
        parse_experiment(text, source="x.yaml")
    return list(caught.value.problems)


class TestValidFiles:
    """Well-formed experiments load into the schema."""

    def test_designs_example_loads(self) -> None:
        """DESIGN.md's example experiment is valid, with its values in seconds."""
        experiment = parse_experiment(DESIGN_EXAMPLE)

        assert (60.0, 3, 0.95) == (
            experiment.duration,
            len(experiment.nemesis),  # type: ignore[arg-type]
            experiment.expect.availability.quiet.limit,  # type: ignore[union-attr]
        )

    def test_random_nemesis_is_a_mapping(self) -> None:
        """``nemesis: {random: [...]}`` is a random schedule."""
        experiment = parse_experiment(
            "name: r\nduration: 30s\nnemesis: {random: [kill, loss], every: 6s, for: 2s}\n"
        )

        assert isinstance(experiment.nemesis, RandomNemesis)
        assert (NemesisKind.KILL, NemesisKind.LOSS) == experiment.nemesis.random

    @pytest.mark.parametrize("path", sorted(CATALOG.glob("*.yaml")), ids=lambda p: p.stem)
    def test_every_catalog_experiment_loads(self, path: Path) -> None:
        """Each catalog file is valid and named after its file."""
        experiment = load_experiment(path)

        assert path.stem == experiment.name
        assert experiment.description


class TestErrors:
    """Bad files get one line per problem: file:line:column: field: expected, found."""

    def test_wrong_value_names_line_column_field_and_what_was_found(self) -> None:
        """A negative client count points at its value."""
        found = problems("name: a\nduration: 10s\nworkload: {clients: -1}\n")

        assert ["x.yaml:3:21: workload.clients: expected greater than or equal to 1, found -1"] \
            == found

    def test_unknown_key_is_an_error_listing_the_known_ones(self) -> None:
        """A misspelt key is refused, never ignored."""
        (found,) = problems("name: a\nduration: 10s\ncluster: {nodez: 3}\n")

        assert found.startswith("x.yaml:3:11: cluster.nodez: unknown key 'nodez' (expected one")
        assert "nodes" in found

    def test_every_problem_is_reported(self) -> None:
        """Three mistakes give three lines."""
        found = problems("name: Bad\nduration: soon\nworkload: {rate: 0}\n")

        assert 3 == len(found)

    def test_a_missing_required_key_is_named(self) -> None:
        """Without a duration the file is refused, naming the key."""
        found = problems("name: a\n")

        assert ["x.yaml:1:1: duration: required, and missing"] == found

    def test_fault_parameters_must_fit_the_fault(self) -> None:
        """A latency fault takes no loss probability; the item is pointed at."""
        found = problems("name: a\nduration: 10s\nnemesis:\n  - {at: 1s, fault: latency, p: 0.5, "
                         "for: 1s}\n")

        assert ["x.yaml:4:5: nemesis.0: fault latency takes no p"] == found

    def test_a_fault_past_the_end_is_refused_at_its_item(self) -> None:
        """A fault that ends after the run points at that fault."""
        (found,) = problems("name: a\nduration: 10s\nnemesis:\n  - {at: 1s, fault: kill, for: "
                            "1s}\n  - {at: 8s, fault: kill, for: 5s}\n")

        assert found.startswith("x.yaml:5:5: nemesis.1: the fault (kill at 8s for 5s) ends")

    def test_a_seeded_bug_needs_allow_unsafe(self) -> None:
        """Switching a bug on must be explicit."""
        (found,) = problems("name: a\nduration: 10s\ncluster: {unsafe: unsynced-storage}\n")

        assert "allow-unsafe: true" in found

    def test_not_yaml_points_at_the_syntax_error(self) -> None:
        """Broken YAML is reported where the parser stopped."""
        (found,) = problems("name: a\nduration: [10s\n")

        assert found.startswith("x.yaml:3:1: not valid YAML")

    def test_not_a_mapping(self) -> None:
        """An empty file is not an experiment."""
        assert ["x.yaml:1:1: expected a mapping of experiment keys, found an empty file"] == \
            problems("")

    def test_a_missing_file_is_named(self, tmp_path: Path) -> None:
        """A file that does not exist is reported by path."""
        with pytest.raises(ExperimentError, match="cannot read it"):
            load_experiment(tmp_path / "nope.yaml")


class TestQuantities:
    """Durations and bounds as written in files."""

    @pytest.mark.parametrize(
        ("text", "seconds"), [("10s", 10.0), ("250ms", 0.25), ("2m", 120.0), (3, 3.0)]
    )
    def test_durations(self, text: object, seconds: float) -> None:
        """Units are s, ms, m; a plain number is seconds."""
        assert seconds == parse_duration(text)

    def test_bounds_hold_or_not(self) -> None:
        """">= 0.95" holds for 0.96 and not for 0.9; "<= 5s" is in seconds."""
        ratio = parse_bound(">= 0.95", duration=False)
        time = parse_bound("<= 500ms", duration=True)

        assert (True, False, True, False) == (
            ratio.holds(0.96), ratio.holds(0.9), time.holds(0.4), time.holds(0.6)
        )

    @pytest.mark.parametrize("text", ["about 5", "=> 1", "<= 5 parsecs", True])
    def test_bad_bounds_are_refused(self, text: object) -> None:
        """Anything else is a ValueError saying what was expected."""
        with pytest.raises(ValueError, match="expected"):
            parse_bound(text, duration=True)
