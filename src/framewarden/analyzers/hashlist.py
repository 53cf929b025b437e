"""``hashlist``: flag frames whose PDQ hash is in a hash bank.

Models guess; a hash list knows.  A platform that has already judged a
picture (or received its hash from a sharing program) wants every copy of it
flagged again, re-encoded, resized or lightly edited, without a model.  This
analyzer hashes each frame with PDQ and reports one detection per bank with
an entry within ``max_distance`` bits.

It is cheap by construction: a frame is shrunk to at most 512 px before
hashing (about 4 ms instead of 34 ms at 720p), all banks are matched in one
vectorized pass, and with no banks there is no hashing at all.  Banks are
re-read when their files change (one ``scandir`` per call), so
``framewarden banks add`` reaches a running server without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pdqhash
from pydantic import Field

from framewarden.analyzers.base import AnalyzerConfig, Detection, register
from framewarden.config import get_settings
from framewarden.hashing.banks import Bank, BankError, BankStore
from framewarden.hashing.match import HashIndex
from framewarden.hashing.pdq import (
    DEFAULT_MAX_DISTANCE,
    DEFAULT_MIN_QUALITY,
    MATCH_MAX_SIDE,
    downscale,
    hash_dihedral,
    matching_hash,
)
from framewarden.media.frame import Frame

log = logging.getLogger(__name__)

HASH_MAX_SIDE = MATCH_MAX_SIDE  # banks add shrinks images the same way (hashing.matching_hash_image)


def match_confidence(distance: int, max_distance: int) -> float:
    """Confidence (0-100) of a match at ``distance`` bits.

    Linear from 100 (identical hashes) down to just above 50 at
    ``max_distance``, so every match the threshold accepts also passes the
    default minimum confidence of 50; beyond the threshold there is no match.
    """
    return 100.0 - 50.0 * distance / (max_distance + 1)


class HashListConfig(AnalyzerConfig):
    type: Literal["hashlist"] = "hashlist"
    max_distance: int = Field(
        DEFAULT_MAX_DISTANCE,
        ge=0,
        le=128,
        description="Largest Hamming distance (of 256 bits) that counts as a match; "
        "31 is PDQ's recommended threshold (about 1 false match in a billion pairs).",
    )
    banks: tuple[str, ...] = Field((), description="Names of the banks to match; empty = all banks.")
    banks_dir: Path | None = Field(None, description="Folder of the bank files; empty = Settings.banks_dir.")
    min_quality: int = Field(
        DEFAULT_MIN_QUALITY,
        ge=0,
        le=100,
        description="Skip frames whose PDQ quality is below this (flat, featureless pictures).",
    )
    dihedral: bool = Field(
        True,
        description="Also match the frame rotated by 90/180/270 degrees and mirrored "
        "(catches flipped re-uploads and EXIF-rotated photos, whose bank hash is of the stored pixels).",
    )
    max_side: int = Field(
        HASH_MAX_SIDE, ge=64, description="Shrink frames to this longest side before hashing."
    )


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """The banks loaded at one moment and their merged index."""

    banks: tuple[Bank, ...] = ()
    index: HashIndex = field(default_factory=lambda: HashIndex(()))

    @classmethod
    def build(cls, banks: Sequence[Bank]) -> _Snapshot:
        hashes = [e.pdq for b in banks for e in b.entries]
        owners = [i for i, b in enumerate(banks) for _ in b.entries]
        return cls(tuple(banks), HashIndex(hashes, owners))


@register("hashlist", HashListConfig, "PDQ hash matching against the banks of known content.")
class HashListAnalyzer:
    """Flags frames whose PDQ hash is within ``max_distance`` of a bank entry."""

    name = "hashlist"
    # Full frames from the decoder: the shrink to ``max_side`` happens here (hashing.frame_hash), the
    # same function ``banks add`` uses, so a frame hashes the same from every path.
    preferred_max_side = 0

    def __init__(self, config: HashListConfig) -> None:
        self.config = config
        self.version = f"pdq-{pdqhash.__version__}"
        self._lock = threading.Lock()
        self._signature: tuple[object, ...] | None = None
        self._snapshot = _Snapshot()
        self._warned: set[str] = set()

    # --- banks ------------------------------------------------------------
    @property
    def store(self) -> BankStore:
        # Resolved on each use, so a shared instance follows the current settings.
        return BankStore(self.config.banks_dir or get_settings().banks_dir)

    def refresh(self) -> _Snapshot:
        """Reload the banks if any bank file changed since the last call."""
        store = self.store
        signature = (str(store.root), *store.signature())
        with self._lock:
            if signature != self._signature:
                self._snapshot = _Snapshot.build(self._load(store))
                self._signature = signature
                log.debug(
                    "hashlist: %d banks, %d hashes", len(self._snapshot.banks), len(self._snapshot.index)
                )
            return self._snapshot

    def _load(self, store: BankStore) -> list[Bank]:
        present = set(store.names())
        wanted = list(self.config.banks) or sorted(present)
        banks = []
        for name in wanted:
            try:
                banks.append(store.load(name))
            except BankError as exc:  # a bad or missing bank must not stop moderation
                if str(exc) not in self._warned:
                    self._warned.add(str(exc))
                    log.warning("hashlist: skipping bank: %s", exc)
        return banks

    # --- Analyzer protocol --------------------------------------------------
    def labels(self) -> frozenset[str]:
        return frozenset(b.label for b in self.refresh().banks)

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        snapshot = self.refresh()
        if not len(snapshot.index):
            return [[] for _ in frames]
        return [self._analyze_one(frame, snapshot) for frame in frames]

    def _analyze_one(self, frame: Frame, snapshot: _Snapshot) -> list[Detection]:
        if self.config.dihedral:
            queries, quality = hash_dihedral(downscale(frame.image, self.config.max_side))
        else:
            single = matching_hash(frame.image, self.config.max_side)
            queries, quality = [single.hex], single.quality
        if quality < self.config.min_quality:
            return []
        matches = snapshot.index.best_per_owner(queries, self.config.max_distance)
        detections = []
        for owner, match in sorted(matches.items(), key=lambda item: (item[1].distance, item[0])):
            bank = snapshot.banks[owner]
            detections.append(
                Detection(
                    label=bank.label,
                    confidence=match_confidence(match.distance, self.config.max_distance),
                    analyzer=self.name,
                    analyzer_version=self.version,
                    raw_class=f"bank:{bank.name}",
                    detail=f"{snapshot.index.hashes[match.index]} distance={match.distance}",
                )
            )
        return detections

    def close(self) -> None:
        with self._lock:
            self._snapshot = _Snapshot()
            self._signature = None
