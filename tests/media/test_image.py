"""Image input at the edge: real broken files, awkward modes, hostile headers."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from framewarden.errors import (
    CorruptInputError,
    EmptyInputError,
    InputError,
    TooLargeInputError,
    UnsupportedInputError,
)
from framewarden.media.image import array_to_rgb, is_image_path, load_image
from tests.conftest import BROKEN, IMAGES, THREATEXCHANGE

I16_PNG = THREATEXCHANGE / "python-threatexchange/threatexchange/tests/hashing/resources/I16.png"


def _manifest() -> dict[str, dict[str, str]]:
    with (IMAGES / "MANIFEST.tsv").open(newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t")}


def _png(img: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


# --- every real file ---------------------------------------------------------

BROKEN_CASES = [
    ("zero_bytes_result.webm", EmptyInputError, "empty"),
    ("small_png-truncated.png", CorruptInputError, "truncated"),
    ("small_Mpeg4.mp4", UnsupportedInputError, "not an image"),
    ("-video-with-dash-.mp4", UnsupportedInputError, "not an image"),
    ("BROKEN.tsv", UnsupportedInputError, "not an image"),
]


def test_broken_table_covers_every_broken_file() -> None:
    assert {p.name for p in BROKEN.iterdir()} == {row[0] for row in BROKEN_CASES}


@pytest.mark.parametrize(("name", "error", "reason"), BROKEN_CASES)
def test_broken_files_give_a_typed_error_naming_the_file(
    name: str, error: type[InputError], reason: str
) -> None:
    path = BROKEN / name
    with pytest.raises(error) as info:
        load_image(path)
    assert info.value.source == str(path)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", sorted(_manifest()))
def test_every_real_image_loads_upright_rgb(name: str) -> None:
    row = _manifest()[name]
    loaded = load_image(IMAGES / name)
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.flags["C_CONTIGUOUS"]
    assert loaded.rgb.shape == (int(row["height"]), int(row["width"]), 3)
    assert loaded.format == row["format"]
    assert loaded.frames == int(row["frames"])


def test_manifest_itself_is_not_an_image() -> None:
    with pytest.raises(UnsupportedInputError):
        load_image(IMAGES / "MANIFEST.tsv")


# --- inputs by kind ----------------------------------------------------------


def test_path_bytes_and_buffers_decode_the_same() -> None:
    path = IMAGES / "coffee.png"
    raw = path.read_bytes()
    expected = load_image(path).rgb
    for data in (str(path), raw, bytearray(raw), memoryview(raw)):
        assert np.array_equal(load_image(data).rgb, expected)
    assert load_image(raw).source == "<bytes>"
    assert load_image(raw, source="upload.png").source == "upload.png"


@pytest.mark.parametrize(
    ("make", "error", "reason"),
    [
        (lambda tmp: tmp / "missing.png", InputError, "no such file"),
        (lambda tmp: tmp, UnsupportedInputError, "is a directory"),
    ],
)
def test_unreadable_paths(
    tmp_path: Path, make: Callable[[Path], Path], error: type[InputError], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        load_image(make(tmp_path))


def test_truncated_jpeg_is_refused() -> None:
    raw = (IMAGES / "baboon.jpg").read_bytes()
    with pytest.raises(CorruptInputError, match="<bytes>"):
        load_image(raw[: len(raw) // 2])


# --- decompression bombs -----------------------------------------------------


def _header_only_png(width: int, height: int) -> bytes:
    """A PNG that claims a huge size but holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (20_000, 20_000), (60_000, 1_000)])
def test_huge_header_is_refused_before_decoding(tmp_path: Path, width: int, height: int) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_header_only_png(width, height))
    with pytest.raises(TooLargeInputError) as info:
        load_image(bomb)
    assert info.value.source == str(bomb)


def test_max_pixels_limit_names_the_size() -> None:
    with pytest.raises(TooLargeInputError, match="512x512 = 262144 pixels exceeds the limit of 100000"):
        load_image(IMAGES / "astronaut.png", max_pixels=100_000)
    assert load_image(IMAGES / "astronaut.png", max_pixels=512 * 512).width == 512


# --- modes -------------------------------------------------------------------


def test_animated_gif_gives_its_first_frame() -> None:
    path = IMAGES / "newtonscradle.gif"
    loaded = load_image(path)
    with Image.open(path) as img:
        img.seek(0)
        first = np.asarray(img.convert("RGB"))
        img.seek(5)
        later = np.asarray(img.convert("RGB"))
    assert loaded.frames == 36
    assert np.array_equal(loaded.rgb, first)
    assert not np.array_equal(loaded.rgb, later)


@pytest.mark.parametrize(
    ("orientation", "shape", "top_is_red"),
    [
        (1, (20, 40, 3), None),  # stored as is: red left, blue right
        (6, (40, 20, 3), True),  # rotate 90 clockwise to view: left half goes to the top
        (8, (40, 20, 3), False),  # rotate 90 counter-clockwise: left half goes to the bottom
        (3, (20, 40, 3), None),  # 180: red ends on the right
    ],
)
def test_exif_rotated_jpeg_comes_out_upright(
    orientation: int, shape: tuple[int, int, int], top_is_red: bool | None
) -> None:
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, :20] = (255, 0, 0)
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    rgb = load_image(buf.getvalue()).rgb
    assert rgb.shape == shape
    red, blue = np.array([255, 0, 0]), np.array([0, 0, 255])

    def near(pixel: np.ndarray, color: np.ndarray) -> bool:
        return bool(np.abs(pixel.astype(int) - color).max() < 40)

    if top_is_red is None:
        left_red = orientation == 1
        assert near(rgb[10, 5], red if left_red else blue)
        assert near(rgb[10, 35], blue if left_red else red)
    else:
        assert near(rgb[5, 10], red if top_is_red else blue)
        assert near(rgb[35, 10], blue if top_is_red else red)


def test_grayscale_is_repeated_on_three_channels() -> None:
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = load_image(_png(Image.fromarray(gray, mode="L"))).rgb
    assert rgb.shape == (16, 16, 3)
    for c in range(3):
        assert np.array_equal(rgb[:, :, c], gray)


def test_rgba_is_composited_on_white() -> None:
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)  # opaque: kept
    rgba[0, 1] = (10, 20, 30, 0)  # transparent: white
    rgba[1, 0] = (0, 0, 0, 128)  # half: mid gray
    rgba[1, 1] = (200, 0, 0, 64)
    rgb = load_image(_png(Image.fromarray(rgba, mode="RGBA"))).rgb
    assert tuple(rgb[0, 0]) == (10, 20, 30)
    assert tuple(rgb[0, 1]) == (255, 255, 255)
    assert np.abs(rgb[1, 0].astype(int) - 127).max() <= 1
    assert abs(int(rgb[1, 1, 0]) - round((200 * 64 + 255 * 191) / 255)) <= 1


def test_rgba_real_image_has_no_black_background() -> None:
    rgb = load_image(IMAGES / "horse.png").rgb
    with Image.open(IMAGES / "horse.png") as img:
        alpha = np.asarray(img.getchannel("A"))
    assert (rgb[alpha == 0] == 255).all()


def test_16_bit_png_is_scaled_to_8_bits() -> None:
    with Image.open(I16_PNG) as img:
        assert img.mode.startswith("I;16")
        raw = np.asarray(img).astype(np.float64)
    rgb = load_image(I16_PNG).rgb
    assert rgb.shape == (*raw.shape, 3)
    expected = np.clip(raw / 65535 * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(rgb[:, :, 0], expected)
    assert rgb.min() == 0 and rgb.max() == 255


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_images(transparent: bool) -> None:
    img = Image.new("P", (4, 1))
    img.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    img.putdata([0, 1, 2, 1])
    kwargs = {"transparency": 1} if transparent else {}
    rgb = load_image(_png(img, **kwargs)).rgb
    assert tuple(rgb[0, 0]) == (255, 0, 0)
    assert tuple(rgb[0, 2]) == (0, 0, 255)
    assert tuple(rgb[0, 1]) == ((255, 255, 255) if transparent else (0, 255, 0))


# --- arrays ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((2, 3), 7, np.uint8), np.full((2, 3, 3), 7, np.uint8)),
        (np.full((2, 3, 1), 9, np.uint8), np.full((2, 3, 3), 9, np.uint8)),
        (np.full((1, 1, 3), (1, 2, 3), np.uint8), np.array([[[1, 2, 3]]], np.uint8)),
        (np.full((1, 1, 4), (10, 20, 30, 0), np.uint8), np.full((1, 1, 3), 255, np.uint8)),
        (np.full((1, 1, 3), 65535, np.uint16), np.full((1, 1, 3), 255, np.uint8)),
    ],
)
def test_arrays(array: np.ndarray, expected: np.ndarray) -> None:
    loaded = load_image(array)
    assert loaded.format == "ndarray" and loaded.source == "<array>"
    assert np.array_equal(loaded.rgb, expected)


@pytest.mark.parametrize(
    ("array", "error"),
    [
        (np.zeros((2, 2, 3), np.float32), UnsupportedInputError),
        (np.zeros((2, 2, 2), np.uint8), UnsupportedInputError),
        (np.zeros((2,), np.uint8), UnsupportedInputError),
        (np.zeros((0, 4, 3), np.uint8), EmptyInputError),
    ],
)
def test_bad_arrays(array: np.ndarray, error: type[InputError]) -> None:
    with pytest.raises(error, match="frame-7"):
        array_to_rgb(array, "frame-7")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.JPG", True), ("b.png", True), ("c.gif", True), ("d.webp", True), ("e.mp4", False), ("f", False)],
)
def test_is_image_path(name: str, expected: bool) -> None:
    assert is_image_path(Path(name)) is expected
