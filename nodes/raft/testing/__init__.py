"""Test helpers for the Raft core: an in-memory cluster and the scenario-script runner.

Rules: no IO, deterministic from a seed; public so the simulator and other
packages' tests can reuse it.
"""

from nodes.raft.testing.handlers import HANDLERS
from nodes.raft.testing.network import (
    MemoryStorage,
    Network,
    Node,
    decode_commands,
    encode_commands,
)
from nodes.raft.testing.script import Args, Block, ScriptError, parse, render, run

__all__ = [
    "HANDLERS",
    "Args",
    "Block",
    "MemoryStorage",
    "Network",
    "Node",
    "ScriptError",
    "decode_commands",
    "encode_commands",
    "parse",
    "render",
    "run",
]
