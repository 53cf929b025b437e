"""The upload processor: kill -9 while a video is processing, restart, and it is finished once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import tests.jobs.redbox  # noqa: F401
from framewarden.config import Settings
from framewarden.events import Event, EventBus
from framewarden.jobs.upload_storage import UploadWriter
from framewarden.jobs.uploads import UploadProcessor
from framewarden.moderator import Moderator
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.store import videos as repo
from framewarden.store.db import open_database
from tests.conftest import REPO
from tests.speech.media import make_clip


def _status(settings: Settings, video_id: str) -> str:
    db = open_database(settings, migrate=False)
    try:
        with db.read() as session:
            return repo.require_video(session, video_id=video_id).status
    finally:
        db.close()


def test_kill_9_during_processing_then_restart_resumes(tmp_path: Path, isolated_settings: Path) -> None:
    settings = Settings(data_dir=isolated_settings, analyzers=["redbox"], upload_sample_interval_s=0.2,
                        upload_transcribe=False)  # fmt: skip
    clip = make_clip(tmp_path / "bars.mp4", [], 6.0, audio=False, pattern="testsrc")  # red bar, moving
    writer = UploadWriter(settings.uploads_location, 10**8)
    writer.write(clip.read_bytes())
    stored = writer.finish()
    db = open_database(settings)
    with db.begin() as session:
        video_id = repo.create_video(session, content_hash=stored.sha256, size_bytes=stored.size,
                                     source=str(stored.path)).id  # fmt: skip
    db.close()

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    child = subprocess.Popen([sys.executable, "-m", "tests.jobs.upload_child", str(isolated_settings), "400"],
                             cwd=REPO, env=env, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _status(settings, video_id) != "processing":
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never started processing"
            time.sleep(0.05)
        time.sleep(0.5)  # well inside the analysis (30 frames at 400 ms each)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert _status(settings, video_id) == "processing"  # killed mid-way: nothing decided

    db = open_database(settings)
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append, {"video_status"})
    batcher = InferenceBatcher(Moderator(settings=settings)).start()
    processor = UploadProcessor(db, settings, batcher, bus, rules=list)
    try:
        assert processor.start().wait_idle(120)
        with db.read() as session:
            video = repo.require_video(session, video_id=video_id)
            history = [e.to_status for e in repo.history(session, video_id=video_id)]
            assert video.status == "needs_review" and video.attempts == 2
            assert video.analysis["frames_analyzed"] >= 1
        assert history == ["uploaded", "processing", "processing", "needs_review"]
        assert [e.payload["status"] for e in seen] == ["processing", "needs_review"]
        processor.resume()  # nothing is left: a second resume queues nothing
        assert processor.wait_idle(10)
        with db.read() as session:
            assert len(repo.history(session, video_id=video_id)) == 4
    finally:
        processor.close()
        batcher.close(10)
        db.close()
