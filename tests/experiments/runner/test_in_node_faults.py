"""In-node faults above the seam: the schema's parameters, resolution to targets, the
status events nodes report, and the evidence a window needs."""

from __future__ import annotations

import random

import pytest

from experiments.backends.base import NodeState
from experiments.runner.analysis import FaultWindow, fault_evidence
from experiments.runner.faults import resolve
from experiments.runner.plan import fault_of, step_of
from experiments.runner.watch import changes
from experiments.schedule import FaultSpec, NemesisKind
from experiments.spec import ExperimentError, parse_experiment
from experiments.spec.model import FaultStep

S = 1_000_000_000
NODES = (1, 2, 3, 4, 5)


def _states(leader: int = 2, **fields: object) -> list[NodeState]:
    return [NodeState(id=n, role="leader" if n == leader else "follower", term=4,
                      leader=leader, **fields) for n in NODES]  # type: ignore[arg-type]


class TestSchema:
    @pytest.mark.parametrize(
        ("step", "expected"),
        [
            ({"fault": "clock-skew", "rate": 0.25}, ("clock_rate", 0.25)),
            ({"fault": "clock-jump", "ms": -3000}, ("clock_jump_ms", -3000.0)),
            ({"fault": "disk-slow", "ms": 40}, ("disk_delay_ms", 40.0)),
        ],
    )
    def test_parameters_reach_the_fault(self, step: dict[str, object],
                                        expected: tuple[str, float]) -> None:
        """rate and ms mean the clock's speed, its step and the disk's delay."""
        spec = fault_of(FaultStep.model_validate({"at": "1s", "for": "2s", **step}))

        assert expected[1] == getattr(spec, expected[0])

    def test_a_resolved_step_reads_back_the_same(self) -> None:
        """step_of(fault_of(step)) keeps target and parameters (replays run alike)."""
        step = FaultStep.model_validate({"at": "1s", "for": "2s", "fault": "clock-skew",
                                         "rate": 0.1, "target": "all"})

        assert step == step_of(fault_of(step))

    @pytest.mark.parametrize(
        ("step", "problem"),
        [
            ("{at: 1s, fault: disk-error, target: all, for: 1s}", "not all"),
            ("{at: 1s, fault: clock-skew, rate: 0, for: 1s}", "0.001..1000"),
            ("{at: 1s, fault: clock-jump, ms: 0, for: 1s}", "non-zero"),
            ("{at: 1s, fault: disk-slow, ms: -5, for: 1s}", "(0, 60000]"),
            ("{at: 1s, fault: disk-full, ms: 5, for: 1s}", "takes no ms"),
            ("{at: 1s, fault: bandwidth, rate: 1.5, for: 1s}", "whole number"),
        ],
    )
    def test_bad_values_are_named(self, step: str, problem: str) -> None:
        """Each bad parameter is one problem line naming it."""
        text = f"name: x\nduration: 5s\nnemesis:\n  - {step}\n"
        with pytest.raises(ExperimentError) as raised:
            parse_experiment(text)

        assert any(problem in line for line in raised.value.problems), raised.value.problems


class TestResolve:
    def test_clock_fault_on_the_leader_has_no_sides(self) -> None:
        """A skewed clock cuts no one off: the leader is the target, every node one side."""
        spec = FaultSpec(kind=NemesisKind.CLOCK_SKEW, at_s=1, duration_s=1, target="leader")
        fault = resolve(0, spec, _states(leader=2), NODES, random.Random(1))

        assert ((2,), ()) == (fault.targets, fault.sides)
        assert "0.5x speed on n2 (the leader)" in fault.description

    def test_every_node_with_all(self) -> None:
        """target all hits every node."""
        spec = FaultSpec(kind=NemesisKind.CLOCK_JUMP, at_s=1, duration_s=1, target="all")

        assert NODES == resolve(0, spec, _states(), NODES, random.Random(1)).targets

    def test_a_failing_disk_puts_its_node_on_a_side_of_its_own(self) -> None:
        """disk-error stops its node: like a kill, the rest form the majority."""
        spec = FaultSpec(kind=NemesisKind.DISK_ERROR, at_s=1, duration_s=1, target="n4")
        fault = resolve(0, spec, _states(), NODES, random.Random(1))

        assert ((4,), ((1, 2, 3, 5), (4,))) == (fault.targets, fault.sides)


class TestEvents:
    def test_a_clock_change_and_disk_hits_become_events(self) -> None:
        """A node reporting a clock fault and disk operations hit gives clock and disk
        events; an unchanged reading gives none."""
        before = {s.id: s for s in _states()}
        after = _states(clock_changes=0)
        after[2] = NodeState(id=3, role="follower", term=4, leader=2, clock_offset_ms=-900,
                             clock_rate=1.0, clock_changes=1, disk_injected=3)
        events, _ = changes(before, after, size=5, leader_before=(2, 4))

        assert [{"type": "clock", "node": "n3", "offset_ms": -900, "rate": 1.0, "changes": 1},
                {"type": "disk", "node": "n3", "injected": 3}] == events


class TestEvidence:
    WINDOW = FaultWindow(id=0, fault="clock-skew", start=2 * S, end=4 * S, targets=("n3",))

    def test_the_target_reporting_its_clock_is_evidence(self) -> None:
        """A clock event of the target inside the window shows the fault happened."""
        events = [{"time": 2 * S + 5, "type": "clock", "node": "n3", "offset_ms": 0,
                   "rate": 0.5, "changes": 1}]
        found = fault_evidence(self.WINDOW, [], events, undelivered_before={},
                               undelivered_after={}, quiet_p50_ms=None)

        assert found is not None and "n3 reported its clock" in found

    def test_the_reset_back_to_true_time_is_not(self) -> None:
        """The undo's report (true time again) does not prove the fault was in force."""
        events = [{"time": 4 * S + 5, "type": "clock", "node": "n3", "offset_ms": 0,
                   "rate": 1.0, "changes": 2}]

        assert fault_evidence(self.WINDOW, [], events, undelivered_before={},
                              undelivered_after={}, quiet_p50_ms=None) is None

    def test_another_nodes_clock_is_not(self) -> None:
        """A clock event of a node the fault did not target proves nothing."""
        events = [{"time": 2 * S + 5, "type": "clock", "node": "n1", "rate": 0.5}]

        assert fault_evidence(self.WINDOW, [], events, undelivered_before={},
                              undelivered_after={}, quiet_p50_ms=None) is None

    def test_a_failing_disk_must_stop_its_node(self) -> None:
        """disk-error needs its node seen unreachable; disk hits alone are not enough."""
        window = FaultWindow(id=0, fault="disk-error", start=2 * S, end=4 * S,
                             targets=("n3",))
        hit = [{"time": 2 * S + 5, "type": "disk", "node": "n3", "injected": 1}]
        down = [*hit, {"time": 2 * S + 9, "type": "node-down", "node": "n3",
                       "reason": "unreachable"}]

        only_hit = fault_evidence(window, [], hit, undelivered_before={},
                                  undelivered_after={}, quiet_p50_ms=None)
        stopped = fault_evidence(window, [], down, undelivered_before={},
                                 undelivered_after={}, quiet_p50_ms=None)

        assert only_hit is None
        assert stopped is not None and "n3 stopped on its failing disk" in stopped
