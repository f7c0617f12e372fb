"""The root of every error the ``proxy`` package raises.

Rules: one small hierarchy; each exception says what was wrong and where. Subclasses keep
``ValueError`` (the caller asked for something impossible) or ``RuntimeError`` (the machine
could not do it) beside it where callers already catch those.
"""

from __future__ import annotations


class ProxyError(Exception):
    """Something the Toxiproxy layer could not do: a bad topology, fault or request, or a
    proxy server that refused."""
