"""A proxy's toxics: two ordered chains (one per direction) and their JSON form.

Rules: bookkeeping only, no IO and no asyncio. Order is creation order: a new
toxic goes to the end of its direction's chain and an update keeps its place.
Names are unique across both chains.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from proxy.server.streams import Direction
from proxy.server.toxics import Toxic


def to_float32(value: float) -> float:
    """Round a number to the nearest float32, as Toxiproxy stores toxicity.

    Args:
        value: a finite number within float32's range.

    Returns:
        The float32 value, as a Python float.
    """
    result: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return result


def float32_json(value: float) -> int | float:
    """The number Go's encoder would write for a float32: shortest form, integral as int.

    Args:
        value: a float32 value (see to_float32).

    Returns:
        An int for integral values (``1``), else the shortest float that reads back the same.
    """
    shortest = value
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if to_float32(candidate) == value:
            shortest = candidate
            break
    if shortest.is_integer() and abs(shortest) < 1e21:
        return int(shortest)
    return shortest


@dataclass(slots=True, kw_only=True)
class ToxicEntry:
    """One toxic of one proxy: identity (name, type, stream, seq) plus updatable settings.

    Attributes:
        name: unique within the proxy.
        stream: the caller's spelling of the direction (kept, as Toxiproxy keeps it).
        direction: the parsed direction.
        toxicity: float32 share of links the toxic applies to.
        toxic: the type and attributes (replaced on update).
        seq: creation order, unique for the server's lifetime.
    """

    name: str
    stream: str
    direction: Direction
    toxicity: float
    toxic: Toxic
    seq: int

    def to_json(self) -> dict[str, Any]:
        """Returns: the toxic as Toxiproxy's API shows it, keys in Toxiproxy's order."""
        return {
            "attributes": self.toxic.attributes(),
            "name": self.name,
            "type": self.toxic.TYPE,
            "stream": self.stream,
            "toxicity": float32_json(self.toxicity),
        }


class ToxicChain:
    """The toxics of one proxy, by direction, in creation order."""

    _seq: ClassVar[itertools.count[int]] = itertools.count()

    def __init__(self) -> None:
        self._chains: dict[Direction, list[ToxicEntry]] = {d: [] for d in Direction}

    def find(self, name: str) -> ToxicEntry | None:
        """Args: name: a toxic name. Returns: the toxic with that name in either direction."""
        return next((e for e in self.entries() if e.name == name), None)

    def entries(self) -> list[ToxicEntry]:
        """Returns: every toxic, upstream ones first (the order GET lists them in)."""
        return [*self._chains[Direction.UPSTREAM], *self._chains[Direction.DOWNSTREAM]]

    def in_direction(self, direction: Direction) -> list[ToxicEntry]:
        """Args: direction: which chain. Returns: a copy of that chain."""
        return list(self._chains[direction])

    def next_after(self, direction: Direction, seq: int) -> ToxicEntry | None:
        """The first toxic of a chain created after ``seq`` (where data goes next).

        Args:
            direction: which chain.
            seq: the position data has reached (-1 for the start of the chain).

        Returns:
            The next toxic, or None at the end of the chain.
        """
        for entry in self._chains[direction]:
            if entry.seq > seq:
                return entry
        return None

    def append(
        self, *, name: str, stream: str, direction: Direction, toxicity: float, toxic: Toxic
    ) -> tuple[ToxicEntry, ToxicEntry | None]:
        """Add a toxic at the end of its chain (the caller has checked the name is free).

        Args:
            name: the toxic's name.
            stream: the caller's spelling of the direction.
            direction: the parsed direction.
            toxicity: float32 toxicity.
            toxic: type and attributes.

        Returns:
            The new entry and the one before it in its chain (None if it is first).
        """
        chain = self._chains[direction]
        previous = chain[-1] if chain else None
        entry = ToxicEntry(
            name=name,
            stream=stream,
            direction=direction,
            toxicity=toxicity,
            toxic=toxic,
            seq=next(self._seq),
        )
        chain.append(entry)
        return entry, previous

    def remove(self, entry: ToxicEntry) -> ToxicEntry | None:
        """Remove a toxic.

        Args:
            entry: a toxic of this chain.

        Returns:
            The toxic that was just before it in its chain (None if it was first).
        """
        chain = self._chains[entry.direction]
        index = chain.index(entry)
        del chain[index]
        return chain[index - 1] if index > 0 else None
