"""End-to-end upload latency: upload stored -> verdict, for a 30 s and a 5 min clip with speech.

    python bench/uploads.py [--analyzers nudenet,ocr_text,hashlist] [--lengths 30,300]

Each clip (a moving test pattern, a spoken sentence every 6 s, the
blocklisted phrase once) goes through the real upload processor twice side
by side: with transcription (the default) and frames only, so the ratio shows
what speech costs.  Times are wall seconds on this machine; read the ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from framewarden.config import Settings
from framewarden.events import EventBus
from framewarden.jobs.upload_storage import UploadWriter
from framewarden.jobs.uploads import UploadProcessor
from framewarden.moderator import Moderator
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.speech import SpeechConfig, get_transcriber
from framewarden.store import videos as repo
from framewarden.store.db import open_database

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.speech.media

from tests.speech.media import PHRASE, SENTENCES, Line, make_clip


def clip(work: Path, seconds: int) -> Path:
    lines = [Line(1.0 + i, SENTENCES[(i // 6) % len(SENTENCES)]) for i in range(0, seconds - 5, 6)]
    lines[len(lines) // 2] = Line(lines[len(lines) // 2].start_s, f"you said {PHRASE}")
    return make_clip(work / f"talk{seconds}.mp4", lines, float(seconds), pattern="testsrc")


def run(
    path: Path, data_dir: Path, analyzers: list[str], transcribe: bool
) -> tuple[float, str, dict[str, float]]:
    settings = Settings(
        data_dir=data_dir, analyzers=analyzers, text_blocklist=[PHRASE], upload_transcribe=transcribe
    )
    if transcribe:  # a running server has its model loaded: do not time the load
        get_transcriber(SpeechConfig.model_validate(settings.speech_options))
    db = open_database(settings)
    batcher = InferenceBatcher(Moderator(settings=settings)).start()
    processor = UploadProcessor(db, settings, batcher, EventBus(), rules=list).start()
    writer = UploadWriter(settings.uploads_location, 10**10)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            writer.write(chunk)
    stored = writer.finish()
    with db.begin() as session:
        video_id = repo.create_video(
            session, content_hash=stored.sha256, size_bytes=stored.size, source=str(stored.path)
        ).id
    started = time.perf_counter()
    processor.submit(video_id)
    processor.wait_idle(3600)
    elapsed = time.perf_counter() - started
    with db.read() as session:
        video = repo.require_video(session, video_id=video_id)
        status, timings = video.status, dict(video.analysis.get("timings_s", {}))
    processor.close()
    batcher.close(10)
    db.close()
    return elapsed, status, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyzers", default="nudenet,ocr_text,hashlist")
    parser.add_argument("--lengths", default="30,300")
    args = parser.parse_args()
    analyzers = [a for a in args.analyzers.split(",") if a]
    header = f"{'clip':>6} {'mode':>14} {'upload->verdict s':>18} {'x clip':>7} {'vs frames only':>15}"
    print(header, "status  timings")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for seconds in (int(s) for s in args.lengths.split(",")):
            path = clip(work, seconds)
            base = None
            for transcribe in (False, True):
                elapsed, status, timings = run(path, work / f"d{seconds}{transcribe}", analyzers, transcribe)
                base = base or elapsed
                mode = "frames+speech" if transcribe else "frames only"
                ratio = elapsed / base
                print(f"{seconds:>5}s {mode:>14} {elapsed:18.1f} {elapsed / seconds:7.2f} {ratio:15.2f}",
                      f"{status:7} {timings}")  # fmt: skip


if __name__ == "__main__":
    main()
