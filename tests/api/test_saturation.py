"""A saturated model answers 503 + Retry-After quickly, cancels timed-out frames, and recovers."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from framewarden.api.admission import Admission
from framewarden.api.runtime import Runtime
from framewarden.media.frame import Frame
from framewarden.pipeline.batcher import InferenceBatcher, InferenceSaturatedError
from framewarden.result import ModerationResult
from tests.api.conftest import auth


class GatedModerator:
    """The real moderator behind a gate the test opens; remembers which images it saw."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.gate = threading.Event()
        self.seen: list[str] = []

    def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]:
        self.gate.wait(10)
        self.seen.extend(f.channel for f in frames)
        return self.real.moderate_frames(frames)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def gated(runtime: Runtime) -> Iterator[GatedModerator]:
    moderator = GatedModerator(runtime.moderator)
    original = runtime.batcher
    runtime.batcher = InferenceBatcher(moderator, max_batch=1, max_queue=2).start()
    runtime.settings.image_timeout_s = 0.3
    yield moderator
    moderator.gate.set()
    runtime.batcher.close(5)
    runtime.batcher = original


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _wait(cond: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)


def test_saturated_answers_503_then_recovers(
    client: TestClient, keys: dict[str, str], runtime: Runtime, gated: GatedModerator
) -> None:
    runtime.settings.image_timeout_s = 60.0  # waiting for it instead of refusing would show
    frame = runtime.image_frame(_png(), "held")
    held = [runtime.batcher.submit(frame), runtime.batcher.submit(frame)]  # queue full, model stuck
    t0 = time.perf_counter()
    r = client.post("/v1/images:moderate", content=_png(), headers=auth(keys["ingest"]))
    assert r.status_code == 503, r.text
    assert time.perf_counter() - t0 < 20, "a full queue must answer at once, not after the timeout"
    assert "queue full" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) >= 1
    assert "saturated" in r.json()["detail"]
    gated.gate.set()
    for fut in held:
        fut.result(10)
    ok = client.post("/v1/images:moderate", content=_png(), headers=auth(keys["ingest"]))
    assert ok.status_code == 200, ok.text


def test_timed_out_request_is_503_and_its_frame_is_cancelled(
    client: TestClient, keys: dict[str, str], runtime: Runtime, gated: GatedModerator
) -> None:
    first = runtime.batcher.submit(runtime.image_frame(_png(), "first"))
    _wait(first.running)  # the inference thread is stuck on it
    r = client.post("/v1/images:moderate", content=_png(), headers=auth(keys["ingest"]))
    assert r.status_code == 503, r.text
    assert "within" in r.json()["detail"]
    assert "Retry-After" in r.headers
    _wait(lambda: runtime.batcher.pending == 1)
    assert runtime.batcher.pending == 1, "the timed-out frame still holds a place in the queue"
    gated.gate.set()
    first.result(10)
    assert len(gated.seen) == 1, "the timed-out frame was inferred anyway"


def test_refused_at_the_door_when_too_many_images_are_in_flight(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    runtime.image_admission = Admission(1)
    assert runtime.image_admission.try_enter()  # one image in flight already
    r = client.post("/v1/images:moderate", content=b"not even an image", headers=auth(keys["ingest"]))
    assert r.status_code == 503 and "in flight" in r.json()["detail"], r.text  # the body was never decoded
    assert int(r.headers["Retry-After"]) >= 1
    runtime.image_admission.leave()
    assert client.post("/v1/images:moderate", content=_png(), headers=auth(keys["ingest"])).status_code == 200
    bad = client.post("/v1/images:moderate", content=b"junk", headers=auth(keys["ingest"]))
    assert bad.status_code == 422
    assert runtime.image_admission.in_flight == 0, "a failed request must give its place back"


def test_saturation_from_any_route_is_a_503() -> None:
    """Any caller of moderate_bytes (e.g. the Rekognition endpoint) gets 503, not 500."""
    from fastapi import FastAPI

    from framewarden.api import admission

    app = FastAPI()
    admission.install(app)

    @app.get("/probe")
    def probe() -> dict[str, str]:
        raise InferenceSaturatedError("queue full (2 frames)", 2.5)

    with TestClient(app) as c:
        r = c.get("/probe")
    assert r.status_code == 503 and r.headers["Retry-After"] == "3"
    assert r.json() == {"detail": "inference is saturated: queue full (2 frames)"}
