"""The rich table ``cluster up``, ``cluster status`` and ``demo`` print.

Rules: rendering only.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from experiments.cluster.local import NodeReport

_COLUMNS = ("id", "address", "role", "term", "leader", "commit_index", "applied_index")


_UNSAFE = {"lease": "UNSAFE under clock faults", "stale": "UNSAFE", "ap": "UNSAFE"}


def print_table(reports: list[NodeReport], console: Console | None = None) -> None:
    """Print ``cluster status`` as a rich table (titled with the consistency mode, which
    says UNSAFE for the modes that give up linearizability)."""
    modes = sorted({r.view.consistency for r in reports if r.view is not None})
    named = ", ".join(f"{m} ({_UNSAFE[m]})" if m in _UNSAFE else m for m in modes)
    table = Table(title="chaoslab cluster" + (f": consistency {named}" if named else ""))
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
