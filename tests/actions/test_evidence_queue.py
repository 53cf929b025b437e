"""Evidence off the frame path: keep() never waits for the store; full queue drops and counts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from framewarden.actions.evidence import EvidenceStore, encode_jpeg
from framewarden.actions.evidence_queue import EvidenceMetrics, EvidenceUploader
from framewarden.jobs.evidence import EvidenceWriter
from framewarden.media.frame import Frame
from framewarden.result import ModerationResult
from framewarden.store.blobs import BlobInfo, FileBlobStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FRAME = np.full((24, 32, 3), 128, np.uint8)


class StuckStore:
    """A blob store that hangs (a slow bucket) until released, or fails on demand."""

    def __init__(self, root: Path) -> None:
        self.inner = FileBlobStore(root)
        self.location = str(root)
        self.release = threading.Event()
        self.fail = False

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.release.wait(10)
        if self.fail:
            raise OSError("bucket unreachable")
        self.inner.put(key, data, content_type)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self.inner.list(prefix)


@pytest.fixture
def metrics() -> EvidenceMetrics:
    return EvidenceMetrics(CollectorRegistry())


def _keep(up: EvidenceUploader, flagged: bool = True) -> str | None:
    return up.keep(FRAME, {"labels": {"Weapons": 90}}, channel="cam", flagged=flagged, at=NOW)


def test_slow_store_never_blocks_keep(tmp_path: Path, metrics: EvidenceMetrics) -> None:
    store = StuckStore(tmp_path)
    up = EvidenceUploader(EvidenceStore(store), max_queue=2, metrics=metrics).start()
    t0 = time.perf_counter()
    keys = [_keep(up) for _ in range(6)]  # 1 taken by the (stuck) thread, 2 queued, the rest dropped
    assert time.perf_counter() - t0 < 5, "keep() waited for the store (stuck for 10 s)"
    kept = [k for k in keys if k]
    assert 2 <= len(kept) <= 3 and keys[0] is not None
    assert metrics.value("dropped") == 6 - len(kept)
    assert _keep(up, flagged=False) is None  # clean frames are not kept at all (not a drop)
    assert metrics.value("dropped") == 6 - len(kept)
    store.release.set()
    up.close(10)
    assert metrics.value("written") == len(kept)
    for key in kept:
        assert store.get(key) == encode_jpeg(FRAME)
        body = json.loads(store.get(key.removesuffix(".jpg") + ".json"))
        assert body["image"] == key and body["channel"] == "cam"


def test_store_errors_are_counted_and_the_thread_survives(tmp_path: Path, metrics: EvidenceMetrics) -> None:
    store = StuckStore(tmp_path)
    store.release.set()
    store.fail = True
    up = EvidenceUploader(EvidenceStore(store), max_queue=4, metrics=metrics).start()
    assert _keep(up)
    deadline = time.monotonic() + 5
    while metrics.value("failed") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    store.fail = False
    key = _keep(up)
    up.close(10)
    assert metrics.value("failed") == 1 and metrics.value("written") == 1
    assert key is not None and store.get(key)


def test_keep_after_close_drops(tmp_path: Path, metrics: EvidenceMetrics) -> None:
    up = EvidenceUploader(EvidenceStore(FileBlobStore(tmp_path)), metrics=metrics).start()
    up.close()
    assert _keep(up) is None and metrics.value("dropped") == 1


def test_scans_and_live_channels_share_one_writer(tmp_path: Path) -> None:
    """Same JPEG bytes from a scan and from a live channel: one encoder, one quality."""
    frame = Frame(channel="v", seq=0, pts_ms=2000.0, image=FRAME)
    result = ModerationResult(source="v.mp4", width=32, height=24, detections=[], model_versions={})
    writer = EvidenceWriter(tmp_path / "evidence", keep_flagged=False, keep_clean=True)
    path = writer.save("v.mp4", frame, result)
    assert path is not None and path.parent.name == "clean" and path.name.endswith("_0000002000ms.jpg")
    assert path.read_bytes() == encode_jpeg(FRAME)
    assert json.loads(path.with_suffix(".json").read_text())["Image"] == path.name
    live = EvidenceStore(FileBlobStore(tmp_path / "live")).keep(FRAME, {}, channel="c", flagged=True, at=NOW)
    assert live is not None and (tmp_path / "live" / live).read_bytes() == path.read_bytes()
