"""The ``ap`` mode's replicated map: last-writer-wins registers with tombstones.

Rules: no IO. Every key holds its newest ``Version`` by HLC timestamp; merging is
commutative, associative and idempotent (a version replaces the held one only when its
timestamp is larger), so replicas that have seen the same versions hold the same map,
whatever the order they saw them in. A delete is a version too (a tombstone, value None)
and is never dropped, so an older write arriving late cannot bring a deleted key back.
Each change of the map gets a local sequence number, the order anti-entropy sends
changes in (``changed_since``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from nodes.ap.hlc import Timestamp


@dataclass(frozen=True, slots=True)
class Version:
    """A key's value (None: deleted) as written at ``stamp``."""

    key: str
    value: str | None
    stamp: Timestamp


class LwwStore:
    """Keys to their newest versions, with the local order of changes."""

    __slots__ = ("_by_seq", "_seq", "_versions")

    def __init__(self) -> None:
        self._versions: dict[str, tuple[Version, int]] = {}
        self._by_seq: dict[int, str] = {}
        """Sequence number -> key, in increasing order (dicts keep insertion order)."""
        self._seq = 0

    def __len__(self) -> int:
        """Keys held, tombstones included."""
        return len(self._versions)

    @property
    def seq(self) -> int:
        """The sequence number of the latest change (0: none)."""
        return self._seq

    def get(self, key: str) -> str | None:
        """The key's value (None when absent or deleted)."""
        held = self._versions.get(key)
        return None if held is None else held[0].value

    def version(self, key: str) -> Version | None:
        """The key's newest version (None when the key was never written)."""
        held = self._versions.get(key)
        return None if held is None else held[0]

    def newer(self, version: Version) -> bool:
        """Whether ``version`` would replace what the store holds for its key."""
        held = self._versions.get(version.key)
        return held is None or version.stamp > held[0].stamp

    def merge(self, version: Version) -> bool:
        """Keep ``version`` if it is newer than the held one; True when it was."""
        held = self._versions.get(version.key)
        if held is not None and version.stamp <= held[0].stamp:
            return False
        if held is not None:
            del self._by_seq[held[1]]
        self._seq += 1
        self._versions[version.key] = (version, self._seq)
        self._by_seq[self._seq] = version.key
        return True

    def changed_since(
        self, seq: int, limit: int, max_bytes: int = 1 << 62
    ) -> tuple[list[Version], int]:
        """Versions changed after ``seq``, oldest change first (at most ``limit`` of them
        and about ``max_bytes`` of keys and values, but always one), and the sequence
        number of the last one returned (``seq`` when none): every change up to that
        number is in the list or was superseded by a later one. Linear in the keys held
        (the lab's key spaces are small)."""
        found: list[Version] = []
        upto = seq
        size = 0
        for number, key in self._by_seq.items():
            if number <= seq:
                continue
            version = self._versions[key][0]
            weight = len(version.key) + len(version.value or "") + 32
            if found and (len(found) >= limit or size + weight > max_bytes):
                break
            found.append(version)
            size += weight
            upto = number
        return found, upto

    def versions(self) -> Iterator[Version]:
        """Every held version, tombstones included, in the order of their last change."""
        for key in self._by_seq.values():
            yield self._versions[key][0]

    def newest_stamp(self) -> Timestamp | None:
        """The largest timestamp held (None for an empty store)."""
        return max((v.stamp for v, _ in self._versions.values()), default=None)

    def digest(self) -> dict[str, tuple[str | None, Timestamp]]:
        """The whole map, for comparing replicas (key -> (value, stamp))."""
        return {key: (v.value, v.stamp) for key, (v, _) in self._versions.items()}
