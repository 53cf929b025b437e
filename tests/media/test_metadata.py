"""VideoMetadata matches what the real ffprobe says about every shared video."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from framewarden.errors import CorruptInputError, EmptyInputError, InputError, UnsupportedInputError
from framewarden.media.metadata import (
    VideoMetadata,
    duration_from_packets,
    keyframe_spacing,
    normalise_rotation,
    probe,
)
from tests.conftest import BROKEN, VIDEOS, real_videos


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
            "--",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def ffprobe_last_packet_end_s(path: Path) -> float:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
            "--",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    ends = []
    for line in out.split():
        pts, dur = ([*line.split(","), "0"])[:2]
        if pts != "N/A":
            ends.append(float(pts) + (float(dur) if dur not in {"", "N/A"} else 0.0))
    return max(ends)


def rate(text: str) -> float:
    f = Fraction(text)
    return float(f)


@pytest.mark.parametrize("path", real_videos(), ids=lambda p: p.name)
def test_metadata_matches_ffprobe(path: Path) -> None:
    info = ffprobe(path)
    stream, fmt = info["streams"][0], info["format"]
    meta = probe(str(path))
    assert meta.codec == stream["codec_name"]
    assert (meta.width, meta.height) == (stream["width"], stream["height"])
    assert meta.format == fmt["format_name"]
    expected_rate = (
        rate(stream["avg_frame_rate"]) if stream["avg_frame_rate"] != "0/0" else rate(stream["r_frame_rate"])
    )
    assert meta.frame_rate == pytest.approx(expected_rate, rel=1e-6)
    # no container duration: the end of the last video packet
    expected_s = float(fmt["duration"]) if "duration" in fmt else ffprobe_last_packet_end_s(path)
    assert abs(meta.duration_ms - expected_s * 1000) <= 50
    assert meta.rotation == 0


def test_webm_without_duration_gets_one_from_its_packets() -> None:
    path = VIDEOS / "no_duration.webm"
    assert "duration" not in ffprobe(path)["format"]  # the case this test is about
    meta = probe(str(path))
    assert meta.duration_ms > 4000


def test_rekognition_shape() -> None:
    meta = probe(str(VIDEOS / "bikes.mp4"))
    assert meta.to_rekognition() == {
        "Codec": "h264",
        "DurationMillis": 10000,
        "Format": "QuickTime / MOV",
        "FrameRate": 25.0,
        "FrameHeight": 272,
        "FrameWidth": 640,
    }


@pytest.mark.parametrize(
    ("name", "error", "reason"),
    [
        ("zero_bytes_result.webm", EmptyInputError, "empty file"),
        ("small_png-truncated.png", CorruptInputError, "no frame could be decoded"),
        ("small_Mpeg4.mp4", UnsupportedInputError, "no video stream"),
        ("BROKEN.tsv", CorruptInputError, "invalid data"),
    ],
)
def test_broken_files_get_a_one_line_input_error(name: str, error: type[InputError], reason: str) -> None:
    with pytest.raises(error) as info:
        probe(str(BROKEN / name))
    text = str(info.value)
    assert "\n" not in text and name in text and reason in text


def test_dash_named_file_is_read_as_a_file() -> None:
    meta = probe(str(BROKEN / "-video-with-dash-.mp4"))
    assert (meta.codec, meta.width, meta.height) == ("h264", 1, 1)


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([], None),
        ([0.0], None),
        ([0.0, 2.0, 4.0], 2.0),
        ([0.0, 2.0, 2.5, 4.5], 2.0),
        ([4.0, 0.0, 2.0, 2.0], 2.0),
    ],
)
def test_keyframe_spacing_is_the_largest_gap(times: list[float], expected: float | None) -> None:
    assert keyframe_spacing(times) == expected


@pytest.mark.parametrize(
    ("packets", "start", "expected"),
    [
        ([], 0, None),
        ([(None, 5)], None, None),
        ([(0, 40), (40, 40), (80, 40)], 0, 120),
        ([(10, 40), (50, 40)], None, 80),
    ],
)
def test_duration_from_packets(
    packets: list[tuple[int | None, int]], start: int | None, expected: int | None
) -> None:
    assert duration_from_packets(packets, Fraction(1, 1000), start) == expected


@pytest.mark.parametrize(
    ("degrees", "expected"), [(0, 0), (90, 90), (-90, 270), (180, 180), (-180, 180), (270, 270)]
)
def test_rotation_is_normalised(degrees: float, expected: int) -> None:
    assert normalise_rotation(degrees) == expected


def test_display_size_swaps_for_quarter_turns() -> None:
    meta = VideoMetadata("h264", "mp4", 0, 25.0, 320, 240, rotation=90)
    assert meta.display_size == (240, 320)
