"""Vectorized Hamming matching agrees with the obvious Python loop."""

from __future__ import annotations

import numpy as np
import pytest

from framewarden.hashing import match as match_mod
from framewarden.hashing.match import POPCOUNT_TABLE, HashIndex, Match, distances, to_columns, to_words
from framewarden.hashing.pdq import hamming


def _random_hashes(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [rng.bytes(32).hex() for _ in range(n)]


def _flip(hex_hash: str, bits: int, seed: int = 1) -> str:
    """``hex_hash`` with ``bits`` distinct bits flipped."""
    rng = np.random.default_rng(seed)
    value = int(hex_hash, 16)
    for bit in rng.choice(256, size=bits, replace=False):
        value ^= 1 << int(bit)
    return f"{value:064x}"


def test_popcount_table() -> None:
    assert [int(POPCOUNT_TABLE[i]) for i in (0, 1, 3, 128, 255)] == [0, 1, 2, 1, 8]


def test_words_keep_bit_order() -> None:
    words = to_words(["0" * 15 + "1" + "f" * 16 + "0" * 32])
    assert words.shape == (1, 4)
    assert words.tolist() == [[1, 2**64 - 1, 0, 0]]


@pytest.mark.parametrize("use_table", [False, True], ids=["bitwise_count", "table"])
def test_distances_match_a_python_loop(use_table: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if use_table:  # the fallback for NumPy without bitwise_count
        monkeypatch.delattr(match_mod.np, "bitwise_count")
    bank = [*_random_hashes(500), "0" * 64, "f" * 64]
    query = _random_hashes(1, seed=7)[0]
    got = distances(to_words([query])[0], to_columns(bank))
    assert got.tolist() == [hamming(query, h) for h in bank]
    # 256 differing bits must not wrap around a small integer type.
    assert distances(to_words(["0" * 64])[0], to_columns(["f" * 64])).tolist() == [256]


def test_best_per_owner_finds_the_closest_entry_of_each_owner() -> None:
    base = _random_hashes(1, seed=3)[0]
    noise = _random_hashes(1000, seed=4)
    entries = [*noise, _flip(base, 20), _flip(base, 5, seed=2), _flip(base, 40)]
    owners = [0] * 1000 + [1, 1, 2]
    index = HashIndex(entries, owners)
    result = index.best_per_owner([base], max_distance=31)
    assert result == {1: Match(1001, 5)}  # owner 2's entry is 40 bits away; noise ~128
    assert index.best_per_owner([base], max_distance=40) == {1: Match(1001, 5), 2: Match(1002, 40)}


def test_best_per_owner_takes_the_best_of_several_queries() -> None:
    target = _random_hashes(1, seed=5)[0]
    index = HashIndex([target])
    queries = [*_random_hashes(7, seed=6), _flip(target, 3)]  # like 8 dihedral hashes
    assert index.best_per_owner(queries, max_distance=31) == {0: Match(0, 3)}


@pytest.mark.parametrize(
    ("entries", "queries"),
    [([], ["0" * 64]), (["0" * 64], []), ([], [])],
    ids=["empty-index", "no-queries", "both-empty"],
)
def test_empty_cases(entries: list[str], queries: list[str]) -> None:
    assert HashIndex(entries).best_per_owner(queries, max_distance=31) == {}


def test_ties_prefer_the_first_entry() -> None:
    index = HashIndex(["0" * 64, "0" * 64], owners=[0, 0])
    assert index.best_per_owner(["0" * 64], max_distance=0) == {0: Match(0, 0)}


def test_owners_must_align() -> None:
    with pytest.raises(ValueError, match="one entry per hash"):
        HashIndex(["0" * 64], owners=[0, 1])
