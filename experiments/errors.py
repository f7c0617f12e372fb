"""The root of the experiments package's exceptions, split by whose fault it was (as h11 does).

Rules: every exception the runner, backends and experiment files raise derives from
``LabError``; ``BadInput`` is the user's fault (a bad file or option: exit 2),
``BackendFailure`` is the cluster's or the machine's (it could not do what was asked).
"""

from __future__ import annotations


class LabError(Exception):
    """Something the lab could not do; subclasses say whose fault it was."""


class BadInput(LabError):
    """The user's input is wrong (a file, an option, a name): the message says what and where."""


class BackendFailure(LabError):
    """A backend could not do what was asked (a cluster that would not start, a fault that
    could not be applied); the message says what and where to look."""
