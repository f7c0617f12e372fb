"""Open the client pool of a target inside a load process.

Rules: the only place that maps a ``TargetSpec`` to client code; imports the
system adapters lazily so a load process loads only what it drives.
"""

from __future__ import annotations

from experiments.bench.kv.target import ClientPool, TargetSpec


def open_pool(spec: TargetSpec) -> ClientPool:
    """Connections to every member of ``spec`` (call inside a running event loop)."""
    if spec.system == "etcd":
        from experiments.bench.kv.etcd import EtcdPool  # noqa: PLC0415 - only when used

        return EtcdPool(spec)
    from experiments.bench.kv.chaoslab import ChaoslabPool  # noqa: PLC0415 - only when used

    return ChaoslabPool(spec)
