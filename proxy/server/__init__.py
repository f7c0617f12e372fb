"""An embedded Toxiproxy-compatible server (asyncio): Toxiproxy 2.12's HTTP API and toxics.

Rules: this facade only re-exports; see ``server`` for the lifecycle, ``api``
for HTTP, ``registry``/``proxies``/``links`` for proxying, ``toxics`` for the
toxics.
"""

from proxy.server.errors import ApiError, ConfigFileError, ProxyServerError
from proxy.server.server import (
    DEFAULT_PORT,
    VERSION,
    EmbeddedToxiproxy,
    ServerThread,
    read_config,
    run_in_thread,
    serve_forever,
)

__all__ = [
    "DEFAULT_PORT",
    "VERSION",
    "ApiError",
    "ConfigFileError",
    "EmbeddedToxiproxy",
    "ProxyServerError",
    "ServerThread",
    "read_config",
    "run_in_thread",
    "serve_forever",
]
