"""Suite-wide pytest options (``pytest_addoption`` only works in the root conftest)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--rewrite``: regenerate data-driven expectations instead of checking them."""
    parser.addoption(
        "--rewrite",
        action="store_true",
        default=False,
        help="rewrite the expected output in scenario scripts (tests/**/scenarios/*.txt)",
    )
