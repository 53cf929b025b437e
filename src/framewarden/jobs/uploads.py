"""Uploads through their status flow: queue, analyze once per content, decide, tell everyone.

``UploadProcessor`` owns a few worker threads (``upload_workers``).  An
owner video (the first upload of its bytes) is analyzed; its decision is
written in one transaction together with the decision of every sharer (a
later upload of the same bytes), so both get the same verdict and the bytes
are analyzed once.  At start, owners left ``uploaded`` or ``processing`` by a
killed process are queued again (their analysis restarts from the stored
file; nothing was written for them yet), and sharers whose owner already
finished take its decision.  Every status change is published on the event
bus (``video_status``: WebSocket clients) and sent to the upload
notification targets (webhooks, e-mail).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from framewarden.actions.notifiers import Dispatcher, Message
from framewarden.config import Settings
from framewarden.errors import FramewardenError, InputError
from framewarden.events import Event, EventBus
from framewarden.jobs.upload_analysis import UploadAnalysis, analyze_upload
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.rules.models import Rule
from framewarden.rules.resolve import resolve
from framewarden.store import videos as videos_repo
from framewarden.store.db import Database
from framewarden.store.models import Video

log = logging.getLogger(__name__)

EVENT_KIND = "video_status"


class UploadProcessor:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        batcher: InferenceBatcher,
        bus: EventBus,
        *,
        rules: Callable[[], list[Rule]],
        model_versions: dict[str, str] | None = None,
        dispatcher: Dispatcher | None = None,
        leader: Any = None,
    ) -> None:
        """``leader``: another API process of a Ray cluster analyzes uploads
        (engines/ray_switchboard.Peer); this one stores them and hands them over."""
        self.leader = leader
        self.db = db
        self.settings = settings
        self.batcher = batcher
        self.bus = bus
        self.rules = rules
        self.model_versions = dict(model_versions or {})
        self.dispatcher = dispatcher
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Condition()
        self._busy = 0

    # --- lifetime -------------------------------------------------------------
    def start(self) -> UploadProcessor:
        if self.leader is not None:  # the leader resumed the stored uploads and analyzes new ones
            return self
        for i in range(self.settings.upload_workers):
            thread = threading.Thread(target=self._run, name=f"fw-upload-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.resume()
        return self

    def close(self, timeout: float = 30.0) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def resume(self) -> list[str]:
        """Queue what a previous process left unfinished; settle orphaned sharers."""
        with self.db.begin() as session:
            owners = videos_repo.unfinished_owners(session)
            orphans = [v.id for v in videos_repo.orphaned_sharers(session)]
        for video_id in orphans:
            self._settle_sharer(video_id)
        for video_id in owners:
            self._queue.put(video_id)
        if owners:
            log.info("resuming %d unfinished upload(s)", len(owners))
        return owners

    def take_over(self) -> UploadProcessor:
        """This process now leads: analyze uploads, the unfinished stored ones first."""
        self.leader = None
        return self.start()

    def submit(self, video_id: str) -> None:
        """Queue a new upload; a sharer whose owner is already decided is decided at once."""
        if self.leader is not None:
            try:
                self.leader.call("uploads", "submit", video_id)
            except FramewardenError as exc:  # stored as uploaded: the next leader resumes it
                log.warning("upload %s stays queued for the next leader: %s", video_id, exc)
            return
        with self.db.read() as session:
            video = videos_repo.require_video(session, video_id=video_id)
            owner_id = video.analysis_of
        if owner_id is None:
            self._queue.put(video_id)
        else:
            self._settle_sharer(video_id)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """True once the queue is empty and no upload is being analyzed (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0 and self._queue.empty(), timeout)

    # --- work -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            video_id = self._queue.get()
            if video_id is None:
                return
            with self._idle:
                self._busy += 1
            try:
                self.process(video_id)
            except Exception:
                log.exception("upload %s: processing failed", video_id)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def process(self, video_id: str) -> None:
        """Analyze one owner video and decide it and its sharers."""
        with self.db.begin() as session:
            video = videos_repo.require_video(session, video_id=video_id)
            if video.status in videos_repo.FINAL:
                return
            videos_repo.set_status(session, video, "processing", note=f"attempt {video.attempts + 1}")
            source = video.source
            events = [self._event(video)]
        self._publish(events)
        rule = resolve(self.rules(), self.settings.upload_channel)
        try:
            analysis = analyze_upload(
                source,
                settings=self.settings,
                batcher=self.batcher,
                rule=rule,
                model_versions=self.model_versions,
            )
        except InputError as exc:
            self._decide(video_id, None, failure=exc.reason)
            return
        except Exception as exc:  # a model failure must not leave the video processing forever
            log.exception("upload %s: analysis failed", video_id)
            self._decide(video_id, None, failure=f"analysis failed: {type(exc).__name__}")
            return
        self._decide(video_id, analysis)

    def _decide(self, video_id: str, analysis: UploadAnalysis | None, *, failure: str = "") -> None:
        by_action = self.settings.upload_status_by_action
        events = []
        with self.db.begin() as session:
            owner = videos_repo.require_video(session, video_id=video_id)
            if analysis is None:
                status, verdict, reasons, body = "failed", {}, [], {}
            else:
                status = analysis.status(by_action)
                reasons = analysis.reasons(by_action)
                body = analysis.to_dict()
                verdict = {
                    "status": status,
                    "rule_id": analysis.rule_id,
                    "violations": len(analysis.findings),
                }
                videos_repo.set_tags(session, owner, [(t.name, t.kind) for t in analysis.tags.values()])
            for video in [owner, *videos_repo.sharers(session, owner_id=owner.id)]:
                if video.status in videos_repo.FINAL:
                    continue
                if video is owner:
                    video.analysis = body
                video.verdict, video.reasons = verdict, reasons
                note = "analysis shared by content hash" if video is not owner else ""
                videos_repo.set_status(session, video, status, note=note, failure=failure or None)
                events.append(self._event(video))
        self._publish(events)
        # A sharer created while this transaction ran (and whose own submit saw the owner undecided)
        # takes the decision now rather than at the next restart.
        with self.db.read() as session:
            late = [
                v.id
                for v in videos_repo.sharers(session, owner_id=video_id)
                if v.status not in videos_repo.FINAL
            ]
        for sharer_id in late:
            self._settle_sharer(sharer_id)

    def _settle_sharer(self, video_id: str) -> None:
        """Give a sharer its owner's decision, if the owner has one."""
        events = []
        with self.db.begin() as session:
            video = videos_repo.require_video(session, video_id=video_id)
            owner = videos_repo.get_video(session, video_id=video.analysis_of or "")
            if owner is None or owner.status not in videos_repo.FINAL or video.status in videos_repo.FINAL:
                return
            # An override of the owner is that video's own; a sharer takes the analysis's decision.
            status = owner.verdict.get("status", owner.status) if owner.status != "failed" else "failed"
            video.verdict, video.reasons = dict(owner.verdict), list(owner.reasons)
            videos_repo.set_status(
                session, video, status, note="analysis shared by content hash", failure=owner.failure
            )
            events.append(self._event(video))
        self._publish(events)

    # --- telling everyone ----------------------------------------------------------
    def announce(self, video: dict[str, Any]) -> None:
        """Tell everyone of a status change made outside the processor (a new upload, an override)."""
        keys = ("status", "failure", "reasons", "content_hash", "override_by")
        self._publish([{"video_id": video["id"], **{k: video.get(k) for k in keys}}])

    def _event(self, video: Video) -> dict[str, Any]:
        return {
            "video_id": video.id,
            "status": video.status,
            "failure": video.failure,
            "reasons": video.reasons,
            "content_hash": video.content_hash,
            "override_by": video.override_by,
        }

    def _publish(self, payloads: list[dict[str, Any]]) -> None:
        for payload in payloads:
            publish_status(self.bus, self.dispatcher, self.settings, payload)


def publish_status(
    bus: EventBus, dispatcher: Dispatcher | None, settings: Settings, payload: dict[str, Any]
) -> None:
    """One status change to WebSocket clients and the upload notification targets."""
    bus.publish(Event(EVENT_KIND, payload, channel=settings.upload_channel))
    targets = tuple(settings.upload_notify) or tuple(settings.notify_default)
    if dispatcher is not None and targets:
        summary = f"video {payload['video_id']} is {payload['status']}"
        if payload.get("failure"):
            summary += f": {payload['failure']}"
        dispatcher.submit(
            targets,
            Message(kind=EVENT_KIND, channel=settings.upload_channel, alert_id=None, summary=summary,
                    action=str(payload["status"]), payload=payload),
        )  # fmt: skip
