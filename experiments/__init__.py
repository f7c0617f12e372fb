"""Experiments: histories, checkers, workloads, nemeses, backends, runner, reports.

Rules: may import ``nodes`` (client side) and ``proxy``; neither imports this.
"""
