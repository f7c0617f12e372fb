"""The replicated key-value node: Raft core (no IO), KV state machine, storage.

Rules: this package imports nothing from ``proxy`` or ``experiments``; the Raft
core (``nodes.raft``) imports nothing but the standard library.
"""
