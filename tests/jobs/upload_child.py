"""``python -m tests.jobs.upload_child DATA_DIR``: a slow upload processor, to be killed mid-way.

It resumes (or takes) whatever uploads the database holds and analyzes them
with the ``redbox`` analyzer slowed down, so the parent can kill -9 it while
a video is ``processing``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tests.jobs.redbox  # noqa: F401  (registers "redbox")
from framewarden.config import Settings
from framewarden.events import EventBus
from framewarden.jobs.uploads import UploadProcessor
from framewarden.moderator import Moderator
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.store.db import open_database


def main(data_dir: Path, delay_ms: float) -> None:
    settings = Settings(
        data_dir=data_dir,
        analyzers=["redbox"],
        analyzer_options={"redbox": {"delay_ms": delay_ms}},
        upload_sample_interval_s=0.2,
        upload_transcribe=False,
    )
    db = open_database(settings)
    batcher = InferenceBatcher(Moderator(settings=settings), max_batch=1).start()
    processor = UploadProcessor(db, settings, batcher, EventBus(), rules=list).start()
    processor.wait_idle(600)
    processor.close()
    batcher.close(10)


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
