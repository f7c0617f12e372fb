"""The Toxiproxy layer: topology, control client, fault primitives, embedded server.

Rules: this package imports nothing from ``nodes`` or ``experiments``.
"""
