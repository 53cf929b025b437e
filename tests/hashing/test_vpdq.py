"""vPDQ against upstream's sample hashes and its matching of transformed videos.

Upstream's regression test (vpdq/python/tests/test_vpdq_hash.py) asserts, for
every sample video: the same number of lines, the same frame numbers, and
distance < 31 for every frame pair where both qualities are >= 50.  The fast
tests check two videos (128x128 variant); the slow test checks every sample
video present, both variants.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from framewarden.cli import app
from framewarden.errors import InputError
from framewarden.hashing.vpdq import (
    VpdqFeature,
    distance_matrix,
    format_lines,
    hash_video,
    match,
    parse_lines,
    read_hashes,
)
from tests.conftest import THREATEXCHANGE

SAMPLE_HASHES = THREATEXCHANGE / "vpdq" / "sample-hashes"
SAMPLE_VIDEOS = THREATEXCHANGE / "tmk" / "sample-videos"
PRESENT = sorted(p.stem for p in SAMPLE_VIDEOS.glob("*.mp4"))


@cache
def our_hash(stem: str, downsample: int) -> tuple[VpdqFeature, ...]:
    return tuple(hash_video(str(SAMPLE_VIDEOS / f"{stem}.mp4"), downsample=downsample))


def assert_like_upstream(stem: str, downsample: int) -> float:
    """Upstream's assertions; returns the share of quality >= 50 frames within distance 31.

    Frames of low quality (featureless, e.g. doorknob's dark frames) are skipped
    as upstream skips them: their hashes are unstable by design.
    """
    suffix = f"-{downsample}x{downsample}" if downsample else ""
    expected = read_hashes(SAMPLE_HASHES / f"{stem}{suffix}.txt")
    ours = our_hash(stem, downsample)
    assert len(ours) == len(expected)
    close = compared = 0
    for mine, theirs in zip(ours, expected, strict=True):
        assert mine.frame_number == theirs.frame_number
        assert f"{mine.timestamp_s:.3f}" == f"{theirs.timestamp_s:.3f}"
        distance = int(distance_matrix([mine.pdq_hex], [theirs.pdq_hex])[0, 0])
        if mine.quality >= 50 and theirs.quality >= 50:
            assert distance < 31, f"{stem} frame {mine.frame_number}: distance {distance}"
            compared += 1
            close += distance <= 31
    assert compared >= len(expected) // 2  # most frames were actually compared
    return close / compared


@pytest.mark.parametrize(
    ("stem", "downsample"),
    [("pattern-sd-grey-bar", 128), ("doorknob-hd-no-bar", 128)],
)
def test_hashes_match_upstream_samples(stem: str, downsample: int) -> None:
    assert assert_like_upstream(stem, downsample) >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("downsample", [128, 0])
@pytest.mark.parametrize("stem", PRESENT)
def test_every_present_sample_video_matches_upstream(stem: str, downsample: int) -> None:
    suffix = f"-{downsample}x{downsample}" if downsample else ""
    if not (SAMPLE_HASHES / f"{stem}{suffix}.txt").is_file():
        pytest.skip(f"upstream has no {stem}{suffix}.txt")  # only test-padded-dimensions lacks a 128x128 file
    assert assert_like_upstream(stem, downsample) >= 0.95


VENDORED = {
    "doorknob-hd-no-bar",
    "pattern-sd-grey-bar",
    "pattern-sd-with-small-logo-bar",
    "test-padded-dimensions",
}


def test_sample_videos_are_present() -> None:
    # tests/data vendors four of upstream's sample videos (PROVENANCE.md); a fuller copy has more.
    assert set(PRESENT) >= VENDORED


# --- matching -------------------------------------------------------------------


def test_transformed_copies_match_their_original() -> None:
    query, original = "pattern-sd-with-small-logo-bar", "pattern-sd-grey-bar"
    result = match(our_hash(query, 128), our_hash(original, 128))
    assert result.is_match(compared_threshold=80.0)
    other = our_hash("doorknob-hd-no-bar", 128)
    assert not match(our_hash(query, 128), other).is_match(compared_threshold=1.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "original", "matches"),
    [
        ("chair-19-sd-bar", "chair-orig-22-sd-bar", True),
        ("chair-20-sd-bar", "chair-orig-22-sd-bar", True),
        ("chair-22-sd-sepia-bar", "chair-orig-22-sd-bar", True),
        ("chair-22-with-small-logo-bar", "chair-orig-22-sd-bar", True),
        # a logo covering much of the frame defeats PDQ: upstream's own hashes match ~10 %
        ("chair-22-with-large-logo-bar", "chair-orig-22-sd-bar", False),
        ("pattern-longer-no-bar", "pattern-hd-no-bar", True),
        ("pattern-sd-with-small-logo-bar", "pattern-sd-grey-bar", True),
        ("pattern-sd-with-large-logo-bar", "pattern-sd-grey-bar", False),  # large logo again
        ("pattern-hd-no-bar", "chair-orig-22-sd-bar", False),
        ("doorknob-hd-no-bar", "chair-orig-22-sd-bar", False),
        ("doorknob-hd-no-bar", "pattern-sd-grey-bar", False),  # vendored
    ],
)
def test_transformed_copies_table(query: str, original: str, matches: bool) -> None:
    if not {query, original} <= set(PRESENT):
        pytest.skip(f"{query} or {original} is not vendored (tests/data/PROVENANCE.md)")
    ours = match(our_hash(query, 128), our_hash(original, 128))
    upstream = match(
        read_hashes(SAMPLE_HASHES / f"{query}-128x128.txt"),
        read_hashes(SAMPLE_HASHES / f"{original}-128x128.txt"),
    )
    assert ours.is_match(80.0) is matches
    assert abs(ours.compared_match_percent - upstream.compared_match_percent) <= 10


@pytest.mark.parametrize(
    ("query", "compared", "expected"),
    [
        ([], [], (0.0, 0.0)),
        (["0" * 64], ["0" * 64], (100.0, 100.0)),
        # duplicates count once; quality < 50 is ignored
        (["0" * 64, "0" * 64, "f" * 64], ["0" * 64], (50.0, 100.0)),
        (["0" * 63 + "f"], ["0" * 64], (100.0, 100.0)),  # distance 4
        (["f" * 8 + "0" * 56], ["0" * 64], (0.0, 0.0)),  # distance 32 > 31
    ],
)
def test_match_table(query: list[str], compared: list[str], expected: tuple[float, float]) -> None:
    q = [VpdqFeature(i, 100, h, i / 30) for i, h in enumerate(query)]
    c = [VpdqFeature(i, 100, h, i / 30) for i, h in enumerate(compared)] + [
        VpdqFeature(99, 10, "f" * 64, 3.3)
    ]
    result = match(q, c)
    assert (result.query_match_percent, result.compared_match_percent) == expected


def test_lines_round_trip_in_upstream_format() -> None:
    text = (SAMPLE_HASHES / "doorknob-hd-no-bar.txt").read_text()
    assert format_lines(parse_lines(text)) == text


@pytest.mark.parametrize("line", ["", "1,2,3", "0,100,xyz,0.000", "0,100," + "a" * 63 + ",0.0"])
def test_bad_lines_are_input_errors(line: str) -> None:
    with pytest.raises(InputError, match="not a vPDQ line"):
        VpdqFeature.from_line(line, source="list.txt")


def test_tiny_video_is_refused() -> None:
    with pytest.raises(InputError, match="too small"):
        hash_video(str(THREATEXCHANGE.parent / "broken" / "-video-with-dash-.mp4"))


def test_cli_prints_and_writes_vpdq_lines(tmp_path: Path) -> None:
    video = str(SAMPLE_VIDEOS / "test-padded-dimensions.mp4")
    runner = CliRunner()
    printed = runner.invoke(app, ["vpdq", video, "--downsample", "128"])
    assert printed.exit_code == 0, printed.output
    lines = printed.stdout.splitlines()
    assert len(lines) == 150 and lines[0].startswith("0,") and lines[-1].endswith(",4.967")
    out = tmp_path / "h.txt"
    written = runner.invoke(app, ["vpdq", video, "--out", str(out), "--seconds-per-hash", "1"])
    assert written.exit_code == 0
    assert [f.frame_number for f in read_hashes(out)] == [0, 30, 60, 90, 120]
    missing = runner.invoke(app, ["vpdq", str(tmp_path / "nope.mp4")])
    assert missing.exit_code == 1 and "no such file" in missing.stderr
