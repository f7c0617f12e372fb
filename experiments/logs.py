"""Process-wide structlog configuration, done once by the CLI entry point.

Rules: libraries only call ``structlog.get_logger()``; nothing but the CLI
calls ``configure``. Key=value on a terminal, JSON otherwise or when asked.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["auto", "console", "json"]


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the moment of writing.

    Binding the stream at configure time would leave loggers writing to a
    closed stream after something swapped ``sys.stderr`` (click's test runner).
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(fmt: LogFormat = "auto", level: str = "info") -> None:
    """Configure structlog for this process.

    Args:
        fmt: ``console`` (key=value, for people), ``json`` (one object per line,
            for containers and machines) or ``auto`` (console when stderr is a
            terminal, JSON otherwise).
        level: the minimum level to emit (debug, info, warning, error).
    """
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        msg = f"unknown log level {level!r}; expected debug, info, warning or error"
        raise ValueError(msg)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        # Not cached: tests swap processors (structlog.testing.capture_logs) after a CLI run.
        cache_logger_on_first_use=False,
    )
