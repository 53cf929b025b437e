"""Perceptual hashing: PDQ hashes, hash banks and matching against them.

``pdq`` computes hashes the way the reference implementations do, ``banks``
keeps the curated hash lists on disk, ``match`` finds the closest entries.
The ``hashlist`` analyzer and the ``hash`` / ``banks`` commands build on them.
"""

from framewarden.hashing.banks import (
    Bank,
    BankEntry,
    BankError,
    BankStore,
    UnknownBankError,
    read_hashes_file,
)
from framewarden.hashing.match import HashIndex, Match
from framewarden.hashing.pdq import (
    DEFAULT_MAX_DISTANCE,
    DEFAULT_MIN_QUALITY,
    PdqHash,
    downscale,
    hamming,
    hash_dihedral,
    hash_image,
    hash_rgb,
    matching_hash,
    matching_hash_image,
    normalize_hex,
)

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_MIN_QUALITY",
    "Bank",
    "BankEntry",
    "BankError",
    "BankStore",
    "HashIndex",
    "Match",
    "PdqHash",
    "UnknownBankError",
    "downscale",
    "hamming",
    "hash_dihedral",
    "hash_image",
    "hash_rgb",
    "matching_hash",
    "matching_hash_image",
    "normalize_hex",
    "read_hashes_file",
]
