"""Experiment files: the schema, the loader with positions, durations and bounds.

Rules: this facade only re-exports.
"""

from experiments.spec.load import ExperimentError, load_experiment, parse_experiment
from experiments.spec.model import (
    ClusterSpec,
    Expectations,
    Experiment,
    FaultStep,
    RandomNemesis,
    WorkloadSpec,
)
from experiments.spec.quantities import Bound, format_duration, parse_bound, parse_duration

__all__ = [
    "Bound",
    "ClusterSpec",
    "Expectations",
    "Experiment",
    "ExperimentError",
    "FaultStep",
    "RandomNemesis",
    "WorkloadSpec",
    "format_duration",
    "load_experiment",
    "parse_bound",
    "parse_duration",
    "parse_experiment",
]
