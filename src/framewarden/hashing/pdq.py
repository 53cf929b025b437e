"""PDQ perceptual hashes, computed the way the reference implementations do.

PDQ (Meta's photo hash, the format of ThreatExchange / HMA / StopNCII hash
lists) is only useful if our hash of an image equals, within a few bits, the
hash every other system computes for it.  Two details decide that:

* **Orientation.**  Upstream hashes the pixels *as stored*: the C++
  ``pdq-photo-hasher`` (CImg), Java ImageIO and python-threatexchange
  (``Image.open`` then ``np.asarray``) all ignore the EXIF Orientation tag.
  A file is therefore hashed without EXIF rotation here too (checked against
  upstream's hashes of ``reg-test-input/exif-rotn``).
* **Mode conversion.**  python-threatexchange converts with Pillow's own
  ``Image.convert("RGB")``: alpha is dropped (not composited) and 16-bit
  gray is clipped, not rescaled.  :func:`reference_rgb` does the same, so
  its test vectors (LA.png, I16.png) come out bit-exact.

Frames (decoded video, already-upright arrays) are hashed as given.  Hashing
cost grows with the pixel count (PDQ's own filter runs on the full image), so
:func:`matching_hash` brings a frame to a longest side of 512 first: on real
images this moves the hash by up to ~20 bits from the reference hash.  That
is why everything that is *matched* (the ``hashlist`` analyzer's frames) and
everything it is *matched against* (``banks add`` of an image file) goes
through :func:`matching_hash` / :func:`matching_hash_image`: the same file
banked and then moderated hashes identically (distance 0).  ``framewarden
hash`` keeps the reference hash, for exchange with other systems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pdqhash
from PIL import Image

from framewarden.errors import InputError
from framewarden.media.image import DEFAULT_MAX_PIXELS, ImageInput, array_to_rgb, load_image

HASH_BITS = 256
HEX_LEN = HASH_BITS // 4
# Longest side frames are shrunk to before matching (speed; see the module doc).
MATCH_MAX_SIDE = 512
# The thresholds upstream recommends (pdq/README.md): match at distance <= 31,
# discard hashes of quality < 50 (featureless pictures hash unreliably).
DEFAULT_MAX_DISTANCE = 31
DEFAULT_MIN_QUALITY = 50
_HEX_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A PDQ hash as lowercase hex (64 chars) and its quality (0-100)."""

    hex: str
    quality: int

    def distance(self, other: str | PdqHash) -> int:
        return hamming(self.hex, other.hex if isinstance(other, PdqHash) else other)


def reference_rgb(img: Image.Image) -> np.ndarray:
    """Pillow image -> RGB array as python-threatexchange's hasher sees it."""
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def hash_rgb(rgb: np.ndarray) -> PdqHash:
    """PDQ hash of an (H, W, 3) uint8 RGB array (any size >= 1x1), as given."""
    arr = np.ascontiguousarray(array_to_rgb(rgb))
    bits, quality = pdqhash.compute(arr)
    return PdqHash(_bits_to_hex(bits), int(quality))


def hash_dihedral(rgb: np.ndarray) -> tuple[list[str], int]:
    """The 8 dihedral hashes (original, rot90, rot180, rot270, flipx, flipy,
    flip+1, flip-1) and the quality, for about the price of one hash."""
    arr = np.ascontiguousarray(array_to_rgb(rgb))
    vectors, quality = pdqhash.compute_dihedral(arr)
    return [_bits_to_hex(v) for v in vectors], int(quality)


def hash_image(
    data: ImageInput, *, source: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> PdqHash:
    """PDQ hash of an image file / encoded bytes, pixels as stored (see module doc).

    Raises :class:`framewarden.errors.InputError` naming the input for
    anything that is not a usable image.
    """
    if isinstance(data, Path):
        data = str(data)
    image = load_image(data, source=source, max_pixels=max_pixels, exif_transpose=False, to_rgb=reference_rgb)
    return hash_rgb(image.rgb)


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longest side is at most ``max_side`` (area averaging)."""
    h, w = rgb.shape[:2]
    longest = max(h, w)
    if max_side <= 0 or longest <= max_side:
        return rgb
    scale = max_side / longest
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def matching_hash(rgb: np.ndarray, max_side: int = MATCH_MAX_SIDE) -> PdqHash:
    """The hash the ``hashlist`` analyzer matches: shrunk to ``max_side`` first, then hashed."""
    return hash_rgb(downscale(rgb, max_side))


def matching_hash_image(
    data: ImageInput,
    *,
    source: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = MATCH_MAX_SIDE,
) -> PdqHash:
    """An image file's hash as ``moderate`` will see it: decoded like the Moderator decodes it
    (upright, RGB), then :func:`matching_hash`.  What ``banks add`` stores."""
    if isinstance(data, Path):
        data = str(data)
    image = load_image(data, source=source, max_pixels=max_pixels)
    return matching_hash(image.rgb, max_side)


def _bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


# --- hex and Hamming helpers ----------------------------------------------


def is_pdq_hex(text: str) -> bool:
    """True for 64 hex digits (either case)."""
    return bool(_HEX_RE.fullmatch(text.strip().lower()))


def normalize_hex(text: str, *, source: str = "<hash>") -> str:
    """Lowercase 64-hex PDQ hash, or :class:`InputError` naming ``source``."""
    value = text.strip().lower()
    if not _HEX_RE.fullmatch(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InputError(source, f"not a PDQ hash (64 hex digits): {shown!r}")
    return value


def hex_to_bytes(hex_hashes: list[str] | tuple[str, ...]) -> np.ndarray:
    """Hex hashes -> (N, 32) uint8 array (no validation: use normalize_hex first)."""
    if not hex_hashes:
        return np.zeros((0, HASH_BITS // 8), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hex_hashes)), dtype=np.uint8).reshape(-1, HASH_BITS // 8)


def hamming(a: str, b: str) -> int:
    """Hamming distance between two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
