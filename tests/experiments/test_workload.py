"""Register workload generation: unique values and optimistic cas."""

from __future__ import annotations

import random

from experiments.workload import RegisterGenerator, WorkloadSpec


def _ops(spec: WorkloadSpec, count: int, seed: int = 1) -> list:
    generator = RegisterGenerator(spec, random.Random(seed))
    return [generator.next_op() for _ in range(count)]


class TestUniqueValues:
    def test_every_written_value_is_new(self) -> None:
        """With unique values, no two writes or cas ops write the same value."""
        ops = _ops(WorkloadSpec(), 2_000)

        written = [op.value if op.f == "write" else op.value[1] for op in ops if op.f != "read"]

        assert len(written) == len(set(written))
        assert len(written) > 1_000

    def test_cas_expects_the_last_value_seen_for_its_key(self) -> None:
        """A cas expects what its generator last observed on that key (None before)."""
        spec = WorkloadSpec(read_weight=0, write_weight=0, cas_weight=1, keys=1)
        generator = RegisterGenerator(spec, random.Random(2))

        first = generator.next_op()
        generator.observe("k0", 41)
        second = generator.next_op()

        assert first.value[0] is None
        assert 41 == second.value[0]

    def test_same_seed_same_operations(self) -> None:
        """The generator is deterministic given its seed."""
        assert _ops(WorkloadSpec(), 300, seed=9) == _ops(WorkloadSpec(), 300, seed=9)


class TestSmallValues:
    def test_small_domain_when_unique_values_are_off(self) -> None:
        """Jepsen's classic register: values and cas arguments drawn from 0..values-1."""
        ops = _ops(WorkloadSpec(unique_values=False, values=3), 500)

        for op in ops:
            if op.f == "write":
                assert op.value in range(3)
            elif op.f == "cas":
                assert all(v in range(3) for v in op.value)
