"""Reports of chaos runs: report.html and junit.xml per run directory, and run listings.

Rules: rendering reads a run directory (contract v1, see ``rundir``) and
writes only ``report.html`` and ``junit.xml`` into it, atomically; everything
between reading and writing is pure (``view``, ``counterexample``). A
well-formed directory never makes rendering fail; a malformed one is a
``RunDirError`` that names the directory and the file.
"""

from __future__ import annotations

from experiments.report.html import render_html, render_run
from experiments.report.junit import junit_xml, write_junit
from experiments.report.rundir import RunDirError, RunFiles, load_run
from experiments.report.view import ReportView, build_view

__all__ = [
    "ReportView",
    "RunDirError",
    "RunFiles",
    "build_view",
    "junit_xml",
    "load_run",
    "render_html",
    "render_run",
    "write_junit",
]
