"""Output names, atomic writes, what --resume treats as done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framewarden.jobs.state import ScanState, output_stem, write_atomic


@pytest.mark.parametrize(
    ("source", "prefix"),
    [
        ("/videos/a.mp4", "a.mp4-"),
        ("-video-with-dash-.mp4", "video-with-dash-.mp4-"),
        ("../../etc/passwd", "passwd-"),
        ("s3://bucket/dir/My Clip (1).mp4", "My_Clip_1_.mp4-"),
        ("rtmp://host/live/", "live-"),
        ("https://host", "host-"),
        ("/", "input-"),
        ("/x/" + "é" * 100 + ".mp4", "mp4-"),
    ],
)
def test_output_stem_is_safe(source: str, prefix: str) -> None:
    stem = output_stem(source)
    assert stem.startswith(prefix)
    assert "/" not in stem and ".." not in stem.split("-")[0][:2]
    assert len(stem) <= 71


def test_output_stem_unique() -> None:
    assert output_stem("/a/clip.mp4") != output_stem("/b/clip.mp4")
    assert output_stem("/a/clip.mp4") == output_stem("/a/clip.mp4")


def test_write_atomic_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "r.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.json"]


def test_completed_only_for_succeeded(tmp_path: Path) -> None:
    state = ScanState(tmp_path)
    state.prepare()
    assert state.completed("a.mp4") is None
    state.save("a.mp4", {"Source": "a.mp4", "JobStatus": "FAILED"})
    assert state.load("a.mp4") is not None
    assert state.completed("a.mp4") is None  # failures are retried
    state.save("a.mp4", {"Source": "a.mp4", "JobStatus": "SUCCEEDED"})
    assert state.completed("a.mp4") == {"Source": "a.mp4", "JobStatus": "SUCCEEDED"}


@pytest.mark.parametrize(
    "content", ["", "{trunc", "[]", json.dumps({"Source": "other", "JobStatus": "SUCCEEDED"})]
)
def test_unusable_result_is_not_done(tmp_path: Path, content: str) -> None:
    state = ScanState(tmp_path)
    state.prepare()
    state.result_path("a.mp4").write_text(content)
    assert state.completed("a.mp4") is None


def test_prepare_removes_partials(tmp_path: Path) -> None:
    (tmp_path / "evidence" / "flagged").mkdir(parents=True)
    leftovers = [tmp_path / ".a.json.x1.part", tmp_path / "evidence" / "flagged" / ".f.jpg.y.part"]
    for p in leftovers:
        p.write_bytes(b"partial")
    keep = tmp_path / "a.json"
    keep.write_text("{}")
    ScanState(tmp_path).prepare()
    assert not any(p.exists() for p in leftovers)
    assert keep.exists()
