"""POST /v1/images:moderate with real images, limits and bad input."""

from __future__ import annotations

import io

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from tests.api.conftest import auth
from tests.conftest import BROKEN, IMAGES


def test_raw_body_gives_rekognition_shape(client: TestClient, keys: dict[str, str]) -> None:
    data = (IMAGES / "chelsea.png").read_bytes()
    r = client.post(
        "/v1/images:moderate", content=data, headers={**auth(keys["ingest"]), "Content-Type": "image/png"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"ModerationLabels", "ModerationModelVersion", "Tags", "Detections"}
    assert body["ModerationLabels"] == []  # a cat: nothing to moderate
    assert "nudenet=" in body["ModerationModelVersion"]


def test_multipart_matches_raw(client: TestClient, keys: dict[str, str]) -> None:
    data = (IMAGES / "astronaut.png").read_bytes()
    raw = client.post("/v1/images:moderate?min_confidence=0", content=data, headers=auth(keys["moderator"]))
    multi = client.post(
        "/v1/images:moderate?min_confidence=0",
        files={"file": ("a.png", data, "image/png")},
        headers=auth(keys["moderator"]),
    )
    assert raw.status_code == multi.status_code == 200
    assert raw.json()["Detections"] == multi.json()["Detections"]
    assert raw.json()["Detections"], "min_confidence=0 shows the low-confidence detections (e.g. a face)"


def test_bad_image_is_a_clear_422(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post(
        "/v1/images:moderate",
        content=(BROKEN / "small_png-truncated.png").read_bytes(),
        headers=auth(keys["ingest"]),
    )
    assert r.status_code == 422
    assert "truncated" in r.json()["detail"]
    empty = client.post("/v1/images:moderate", content=b"", headers=auth(keys["ingest"]))
    assert empty.status_code == 422
    assert "empty" in empty.json()["detail"]


def test_upload_limit_is_413(client: TestClient, keys: dict[str, str]) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (1200, 1200, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "PNG")
    assert buf.tell() > 2 * 1024 * 1024
    r = client.post("/v1/images:moderate", content=buf.getvalue(), headers=auth(keys["ingest"]))
    assert r.status_code == 413


def test_rate_limit_is_429_per_key(client: TestClient, keys: dict[str, str]) -> None:
    data = (IMAGES / "coins.png").read_bytes()
    codes = [
        client.post("/v1/images:moderate", content=data, headers=auth(keys["ingest"])).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [200] * 5
    assert codes[5] == 429
    other = client.post("/v1/images:moderate", content=data, headers=auth(keys["admin"]))
    assert other.status_code == 200
