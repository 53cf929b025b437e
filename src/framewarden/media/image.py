"""Still images in: bytes, paths or arrays -> upright RGB ``uint8`` arrays.

Everything an uploader can send is checked here, at the edge: empty files,
non-images, truncated data, decompression bombs (refused from the header,
before any pixel is decoded), EXIF rotation, palette / grayscale / 16-bit /
alpha modes.  Animated images (GIF, APNG, WebP) give their first frame.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from framewarden.errors import (
    CorruptInputError,
    EmptyInputError,
    InputError,
    TooLargeInputError,
    UnsupportedInputError,
)

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".jfif", ".pgm", ".ppm"}
)
DEFAULT_MAX_PIXELS = 50_000_000
# Composite transparent pixels on white, as a viewer sees them on a page.
_BACKGROUND = (255, 255, 255)

ImageInput = str | Path | bytes | bytearray | memoryview | np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class LoadedImage:
    source: str  # the input as the caller named it
    rgb: np.ndarray  # (H, W, 3) uint8, upright
    format: str  # "JPEG", "PNG", ... or "ndarray"
    frames: int  # frames in the file (>1 for animations; only the first is used)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def load_image(
    data: ImageInput,
    *,
    source: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    exif_transpose: bool = True,
    to_rgb: Callable[[Image.Image], np.ndarray] | None = None,
) -> LoadedImage:
    """Decode ``data`` into an upright RGB array or raise an :class:`InputError`.

    ``exif_transpose=False`` keeps the pixels as stored and ``to_rgb``
    replaces :func:`pil_to_rgb`: reference hashers (PDQ) need both to give
    the hashes other systems compute.  Arrays are taken as they are.
    """
    if isinstance(data, np.ndarray):
        name = source or "<array>"
        return LoadedImage(name, array_to_rgb(data, name), "ndarray", 1)
    if isinstance(data, (str, Path)):
        name = source or str(data)
        path = Path(data)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InputError(name, "no such file") from None
        except IsADirectoryError:
            raise UnsupportedInputError(name, "is a directory") from None
        except OSError as exc:
            raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    else:
        name = source or "<bytes>"
        raw = bytes(data)
    return decode_image(raw, source=name, max_pixels=max_pixels, exif_transpose=exif_transpose, to_rgb=to_rgb)


def decode_image(
    raw: bytes,
    *,
    source: str,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    exif_transpose: bool = True,
    to_rgb: Callable[[Image.Image], np.ndarray] | None = None,
) -> LoadedImage:
    if not raw:
        raise EmptyInputError(source, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw))
    except UnidentifiedImageError:
        raise UnsupportedInputError(source, "not an image (unknown format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLargeInputError(source, "image too large (decompression bomb)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptInputError(source, f"unreadable image: {exc}") from None
    with img:
        width, height = img.size
        if width <= 0 or height <= 0:
            raise CorruptInputError(source, f"invalid dimensions {width}x{height}")
        if width * height > max_pixels:
            raise TooLargeInputError(
                source, f"{width}x{height} = {width * height} pixels exceeds the limit of {max_pixels}"
            )
        fmt = img.format or "unknown"
        frames = int(getattr(img, "n_frames", 1) or 1)
        try:
            img.seek(0)
            img.load()
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise CorruptInputError(source, f"truncated or corrupt {fmt} data: {exc}") from None
        if _looks_truncated(raw, fmt):
            raise CorruptInputError(source, f"truncated {fmt} file (no end marker)")
        upright: Image.Image = img
        if exif_transpose:
            try:
                upright = ImageOps.exif_transpose(img) or img
            except (OSError, ValueError, SyntaxError, KeyError):
                upright = img  # broken EXIF: keep the pixels as stored
        rgb = (to_rgb or pil_to_rgb)(upright)
    return LoadedImage(source, rgb, fmt, frames)


def _looks_truncated(raw: bytes, fmt: str) -> bool:
    """Pillow is tolerant of missing trailers; a moderation system must not be.

    A PNG must end with its IEND chunk and a JPEG with EOI; a file cut short
    would otherwise be judged on the gray fill Pillow puts in the missing part.
    """
    tail = raw[-32:]
    if fmt == "PNG":
        return b"IEND" not in tail
    if fmt == "JPEG" and b"\xff\xd9" not in tail:
        # Phone cameras append data after EOI (Samsung SEFT, motion-photo
        # MP4s): look for EOI after the start of the main scan instead.
        scan = _jpeg_scan_start(raw)
        return scan < 0 or raw.find(b"\xff\xd9", scan) < 0
    return False


def _jpeg_scan_start(raw: bytes) -> int:
    """Offset of the first SOS marker, walking segments (so an EXIF
    thumbnail's own markers are skipped); -1 if the header is cut short."""
    i = 2
    while i + 4 <= len(raw):
        if raw[i] != 0xFF:
            return -1
        marker = raw[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0xDA:
            return i
        elif 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            i += 2
        else:
            i += 2 + int.from_bytes(raw[i + 2 : i + 4], "big")
    return -1


def pil_to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB."""
    mode = img.mode
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I"}:
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        gray = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        span = float(arr.max(initial=0) - arr.min(initial=0)) or 1.0
        gray = ((arr - arr.min(initial=0)) / span * 255.0 + 0.5).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def array_to_rgb(arr: np.ndarray, source: str = "<array>") -> np.ndarray:
    """Accept (H, W), (H, W, 1|3|4) arrays of uint8 (RGB order) or uint16."""
    a = np.asarray(arr)
    if a.dtype == np.uint16:
        a = (a.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise UnsupportedInputError(source, f"array dtype {a.dtype} (expected uint8 or uint16)")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.uint16)
        a = ((a[:, :, :3] * alpha + 255 * (255 - alpha)) // 255).astype(np.uint8)
    elif not (a.ndim == 3 and a.shape[2] == 3):
        raise UnsupportedInputError(source, f"array shape {a.shape} is not an image")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise EmptyInputError(source, "empty array")
    return np.ascontiguousarray(a)


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES
