"""The last-writer-wins map: merge order does not matter, tombstones keep deleted keys dead,
changes come out in local order for anti-entropy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nodes.ap import LwwStore, Timestamp, Version

versions = st.builds(
    Version,
    key=st.sampled_from(["a", "b", "c"]),
    value=st.one_of(st.none(), st.text(max_size=3)),
    stamp=st.builds(Timestamp, st.integers(0, 50), st.integers(0, 3), st.integers(1, 3)),
)


class TestLwwStore:
    def test_newer_version_wins(self) -> None:
        """A later stamp replaces the value; an earlier one is ignored."""
        store = LwwStore()
        store.merge(Version("k", "new", Timestamp(2, 0, 1)))
        store.merge(Version("k", "old", Timestamp(1, 0, 2)))

        assert "new" == store.get("k")

    def test_tombstone_keeps_a_deleted_key_dead(self) -> None:
        """An older write arriving after the delete does not bring the key back."""
        store = LwwStore()
        store.merge(Version("k", "v1", Timestamp(1, 0, 1)))
        store.merge(Version("k", None, Timestamp(3, 0, 2)))
        store.merge(Version("k", "v0", Timestamp(2, 0, 3)))

        assert (None, 1) == (store.get("k"), len(store))

    @given(st.lists(versions, max_size=30, unique_by=lambda v: v.stamp),
           st.randoms(use_true_random=False))
    def test_merge_order_does_not_matter(self, seen: list[Version], rng: object) -> None:
        """Two stores merging the same versions in any orders (repeats included) agree
        (a timestamp is issued once, so no two versions share one)."""
        first, second = LwwStore(), LwwStore()
        shuffled = list(seen) + list(seen[: len(seen) // 2])
        rng.shuffle(shuffled)  # type: ignore[attr-defined]
        for version in seen:
            first.merge(version)
        for version in shuffled:
            second.merge(version)

        assert first.digest() == second.digest()

    def test_changed_since_returns_changes_in_order_up_to_a_limit(self) -> None:
        """Changes after a sequence number come oldest first, with the last number sent."""
        store = LwwStore()
        for number, key in enumerate(["a", "b", "c", "a"]):
            store.merge(Version(key, str(number), Timestamp(number + 1, 0, 1)))

        changed, upto = store.changed_since(0, limit=2)

        assert (["b", "c"], 3) == ([v.key for v in changed], upto)

    def test_changed_since_respects_the_byte_cap_but_sends_one(self) -> None:
        """A version larger than the cap still goes alone."""
        store = LwwStore()
        store.merge(Version("a", "x" * 100, Timestamp(1, 0, 1)))
        store.merge(Version("b", "y", Timestamp(2, 0, 1)))

        changed, upto = store.changed_since(0, limit=10, max_bytes=50)

        assert (["a"], 1) == ([v.key for v in changed], upto)
