"""Seed ranges as users type them: ``N`` or ``A..B`` (both ends included).

Rules: pure; a bad range is a ``ValueError`` whose message quotes what was found.
"""

from __future__ import annotations

import re

SEED_RANGE = re.compile(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?")


def seed_range(text: str) -> range:
    """``"7"`` or ``"1..100"`` as a range of seeds.

    Raises:
        ValueError: anything else, or an empty range.
    """
    match = SEED_RANGE.fullmatch(text)
    if match is None:
        msg = f"expected N or A..B (e.g. 1..100), got {text!r}"
        raise ValueError(msg)
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else first
    if last < first:
        msg = f"empty range {text!r}: {last} < {first}"
        raise ValueError(msg)
    return range(first, last + 1)
