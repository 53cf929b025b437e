"""Evidence: JPEG + JSON sorted into flagged/clean by channel and day, retention, and the CLI."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from framewarden.actions.evidence import EvidenceStore, safe_channel
from framewarden.cli import app
from framewarden.config import Settings
from framewarden.store.blobs import BlobStore, open_blob_store
from tests.conftest import IMAGES
from tests.store.test_blobs import s3_settings  # noqa: F401  (the real S3 server fixture)

NOW = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)


def real_frame() -> np.ndarray:
    path = sorted(p for p in IMAGES.iterdir() if p.suffix.lower() in {".jpg", ".png"})[0]
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


@pytest.fixture(params=["fs", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "fs":
        return open_blob_store(str(tmp_path / "ev"))
    return open_blob_store(f"s3://evidence/{tmp_path.name}", request.getfixturevalue("s3_settings"))


def test_flagged_frame_is_kept_as_jpeg_and_json(blobs: BlobStore) -> None:
    frame = real_frame()
    key = EvidenceStore(blobs).keep(
        frame, {"ModerationLabels": [{"Name": "Explicit"}]}, channel="cam-1", flagged=True, at=NOW
    )
    assert key is not None and key.startswith("flagged/cam-1/2024-05-20/120000-") and key.endswith(".jpg")
    with Image.open(io.BytesIO(blobs.get(key))) as img:
        assert img.format == "JPEG" and img.size == (frame.shape[1], frame.shape[0])
    body = json.loads(blobs.get(key[: -len(".jpg")] + ".json"))
    assert body["image"] == key and body["result"]["ModerationLabels"][0]["Name"] == "Explicit"


@pytest.mark.parametrize(("keep_clean", "kept"), [(False, False), (True, True)])
def test_clean_frames_only_when_asked(blobs: BlobStore, keep_clean: bool, kept: bool) -> None:
    key = EvidenceStore(blobs, keep_clean=keep_clean).keep(
        real_frame(), {}, channel="c", flagged=False, at=NOW
    )
    assert (key is not None) is kept
    if key:
        assert key.startswith("clean/c/2024-05-20/")


@pytest.mark.parametrize(
    ("channel", "prefix"),
    [
        ("cam-1", "cam-1"),
        ("../../etc/passwd", "etc_passwd-"),
        ("café live", "caf_live-"),
        ("..", "channel-"),
        ("a/b", "a_b-"),
    ],
)
def test_channel_names_are_sanitised(channel: str, prefix: str) -> None:
    part = safe_channel(channel)
    assert part.startswith(prefix) and "/" not in part and not part.startswith(".")
    assert safe_channel("a/b") != safe_channel("a_b")  # no collision with a real name


def test_hostile_channel_stays_inside_the_store(tmp_path: Path) -> None:
    store = EvidenceStore(open_blob_store(str(tmp_path / "ev")))
    key = store.keep(real_frame(), {}, channel="../../outside", flagged=True, at=NOW)
    assert key is not None and (tmp_path / "ev" / key).is_file()
    assert not (tmp_path / "outside").exists()


def test_retention_deletes_by_age_and_kind(blobs: BlobStore) -> None:
    store = EvidenceStore(blobs, keep_clean=True)
    frame = np.zeros((8, 8, 3), np.uint8)
    old_clean = store.keep(frame, {}, channel="c", flagged=False, at=NOW - timedelta(days=8))
    new_clean = store.keep(frame, {}, channel="c", flagged=False, at=NOW - timedelta(days=6))
    old_flag = store.keep(frame, {}, channel="c", flagged=True, at=NOW - timedelta(days=31))
    new_flag = store.keep(frame, {}, channel="c", flagged=True, at=NOW - timedelta(days=8))
    blobs.put("notes/readme.txt", b"not evidence")

    dry = store.apply_retention(now=NOW, clean_days=7, flagged_days=30, dry_run=True)
    assert len(dry.deleted) == 4 and len(list(blobs.list())) == 9

    done = store.apply_retention(now=NOW, clean_days=7, flagged_days=30)
    assert sorted(done.deleted) == sorted(dry.deleted)
    left = {i.key for i in blobs.list()}
    assert {old_clean, old_flag}.isdisjoint(left)
    assert {new_clean, new_flag, "notes/readme.txt"} <= left
    assert done.kept == 4


def test_cli_prune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWARDEN_EVIDENCE_URL", str(tmp_path / "ev"))
    from framewarden.config import get_settings

    get_settings.cache_clear()
    store = EvidenceStore.from_settings(Settings(evidence_url=str(tmp_path / "ev")))
    old = store.keep(
        np.zeros((4, 4, 3), np.uint8), {}, channel="c", flagged=True, at=datetime.now(UTC) - timedelta(days=3)
    )
    runner = CliRunner()
    dry = runner.invoke(app, ["evidence", "prune", "--flagged-days", "2", "--dry-run"])
    assert dry.exit_code == 0 and old in dry.stdout
    assert (tmp_path / "ev" / old).is_file()
    kept = runner.invoke(app, ["evidence", "prune", "--flagged-days", "5"])
    assert kept.exit_code == 0 and (tmp_path / "ev" / old).is_file()
    done = runner.invoke(app, ["evidence", "prune", "--flagged-days", "2"])
    assert done.exit_code == 0 and not (tmp_path / "ev" / old).exists()


def test_cli_prune_bad_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWARDEN_EVIDENCE_URL", "ftp://nowhere/x")
    from framewarden.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["evidence", "prune"])
    assert result.exit_code == 2
