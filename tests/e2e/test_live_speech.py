"""A live channel through nginx-rtmp whose audio says the blocklisted phrase raises an alert.

The publisher is a real FFmpeg pushing an H.264 + AAC clip (espeak-ng speech
muxed at test time) to a private nginx-rtmp; the runtime transcribes the
channel's audio continuously.  The alert carries its evidence: the
transcript segment and the keyframe shown at that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.jobs.redbox  # noqa: F401
from framewarden.api.runtime import Runtime
from framewarden.config import Settings
from framewarden.events import Event
from framewarden.store import alerts as alerts_repo
from tests.e2e.harness import NginxRtmp, Publisher
from tests.speech.media import PHRASE, SENTENCES, Line, make_clip

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PHRASE_AT_S = 4.0


@pytest.fixture
def runtime(isolated_settings: Path) -> Iterator[Runtime]:
    settings = Settings(
        data_dir=isolated_settings,
        analyzers=["redbox"],
        alert_escalation_s=0,
        text_blocklist=[PHRASE],
        live_transcribe=True,
    )
    rt = Runtime(settings).start()
    yield rt
    rt.stop()


def test_spoken_phrase_on_a_live_channel_alerts_with_evidence(
    runtime: Runtime, nginx_rtmp: NginxRtmp, tmp_path: Path
) -> None:
    lines = [Line(0.5, SENTENCES[3]), Line(PHRASE_AT_S, f"now {PHRASE} again")]
    clip = make_clip(tmp_path / "talk.mp4", lines, 8.0, pattern="testsrc")
    flagged = threading.Event()
    seen: list[Event] = []

    def on_speech(event: Event) -> None:
        seen.append(event)
        if event.payload.get("flagged"):
            flagged.set()

    runtime.bus.subscribe(on_speech, {"speech"})
    publisher = Publisher(clip, nginx_rtmp.rtmp_url("talk"), audio=True, log_dir=tmp_path / "ffmpeg").start()
    try:
        assert nginx_rtmp.wait_publishing("talk", 15.0)
        started = time.monotonic()
        runtime.channels.add("talk", nginx_rtmp.rtmp_url("talk"), start=True)
        assert flagged.wait(60), [e.payload for e in seen]
        assert time.monotonic() - started < 60
    finally:
        publisher.close()
    event = next(e for e in seen if e.payload["flagged"])
    segment = event.payload["segment"]
    assert PHRASE.replace(" ", "") in segment["Text"].lower().replace(" ", "")
    assert event.payload["labels"]["Blocklisted Text"] >= 70
    assert event.payload["evidence_key"], "the keyframe at that time is kept as evidence"
    with runtime.db.read() as session:
        alert = alerts_repo.require_alert(session, alert_id=event.payload["alert_id"])
        assert alert.channel == "talk" and alert.top_label in {"Blocklisted Text", "Offensive Text"}
        assert alert.evidence_key == event.payload["evidence_key"]
    kept = list(Path(runtime.settings.evidence_location).rglob("*.json"))
    assert any("speech" in p.read_text() and "segment" in p.read_text() for p in kept)
    stats = runtime.live_speech.running["talk"].stats
    assert stats.segments >= 1 and stats.flagged >= 1
    # only the phrase is flagged (the clean sentence, when the reader heard it, is not)
    squeeze = PHRASE.replace(" ", "")
    assert all(
        squeeze in e.payload["segment"]["Text"].lower().replace(" ", "") for e in seen if e.payload["flagged"]
    )
