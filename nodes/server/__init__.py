"""The node server: settings, the asyncio node loop, gRPC services and peer transport.

Rules: this facade only re-exports. Protobuf types stay in ``services``, ``writes``,
``guard``, ``spool``, ``auth``, ``decoding`` and ``transport``; the Raft core and
replica know nothing of gRPC. Clients and peers have separate listeners (``main``);
every limit is in ``limits``.
"""

from nodes.server.config import NodeSettings, SettingsError, SyncMode, load_settings
from nodes.server.main import serve
from nodes.server.node import Node, NodeStatus

__all__ = [
    "Node",
    "NodeSettings",
    "NodeStatus",
    "SettingsError",
    "SyncMode",
    "load_settings",
    "serve",
]
