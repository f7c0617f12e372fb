"""The rich table ``cluster up``, ``cluster status`` and ``demo`` print.

Rules: rendering only.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from experiments.cluster.local import NodeReport

_COLUMNS = ("id", "address", "role", "term", "leader", "commit_index", "applied_index")


def print_table(reports: list[NodeReport], console: Console | None = None) -> None:
    """Print ``cluster status`` as a rich table."""
    table = Table(title="chaoslab cluster")
    for column in ("id", "address", "role", "term", "leader", "commit", "applied"):
        table.add_column(column)
    for report in reports:
        row = report.as_json()
        style = {"leader": "bold green", "unreachable": "red"}.get(str(row["role"]), "")
        table.add_row(
            *("-" if row[key] is None else str(row[key]) for key in _COLUMNS),
            style=style,
        )
    (console or Console()).print(table)
