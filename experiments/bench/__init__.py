"""Benchmarks of the experiments package, registered in the ``chaoslab bench`` group.

Rules: each benchmark is a click command that prints a rich table (JSON with
``--json``); the code it measures lives elsewhere and is imported.
"""
