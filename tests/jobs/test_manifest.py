"""Inputs: S3 Batch-style manifests, folders walked for videos."""

from __future__ import annotations

from pathlib import Path

import pytest

from framewarden.errors import InputError
from framewarden.jobs.manifest import expand_inputs, parse_manifest, read_manifest
from tests.conftest import BROKEN, VIDEOS, real_videos


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("\n# comment\n\n", []),
        ("bucket,videos/a.mp4\n", ["s3://bucket/videos/a.mp4"]),
        ("bucket,my%20clip%2B1.mp4,3HL4kqtJlcpXroDTDmjVBH40Nrjfkd\n", ["s3://bucket/my clip+1.mp4"]),
        ("bucket,a+b.mp4\n", ["s3://bucket/a b.mp4"]),
        ('"bucket","dir/with,comma.mp4"\n', ["s3://bucket/dir/with,comma.mp4"]),
        ("/data/a.mp4\nhttps://x/y.m3u8\n", ["/data/a.mp4", "https://x/y.m3u8"]),
        ("\ufeffbucket,k.mp4\n", ["s3://\ufeffbucket/k.mp4"]),  # BOM is stripped by read_manifest only
    ],
)
def test_parse_manifest(text: str, expected: list[str]) -> None:
    assert parse_manifest(text) == expected


def test_bad_manifest_row_names_line() -> None:
    with pytest.raises(InputError, match=r"m\.csv: line 2: .*not a bucket"):
        parse_manifest("b,k\nhttp://x/y,k2\n", source="m.csv")


def test_read_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("\ufeffbucket,k.mp4\n", encoding="utf-8")
    assert read_manifest(path) == ["s3://bucket/k.mp4"]
    with pytest.raises(InputError, match="no such manifest"):
        read_manifest(tmp_path / "missing.csv")


def test_expand_walks_folders_for_videos_and_dedups(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"{VIDEOS / 'bikes.mp4'}\nbucket,k.mp4\n")
    got = expand_inputs([str(VIDEOS), str(BROKEN / "small_png-truncated.png")], [manifest])
    assert got[:2] == [str(VIDEOS / "bikes.mp4"), "s3://bucket/k.mp4"]
    # The folder gives every video once (bikes.mp4 is not repeated), never MANIFEST.tsv.
    assert got[2:-1] == [str(p) for p in real_videos() if p.name != "bikes.mp4"]
    assert got[-1] == str(BROKEN / "small_png-truncated.png")  # named explicitly: kept
