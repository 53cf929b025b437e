"""The server's runtime: every long-lived part of `framewarden serve`, started in order.

Like Frigate's app, start-up is a flat list of ``start_*`` steps and
shut-down runs them backwards, so the order of dependencies is visible in
one place: database -> events -> analyzers -> notifications -> alerts ->
evidence -> channels -> escalation.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from framewarden.actions.alerts import AlertService, alert_payload
from framewarden.actions.controllers import ControllerError, ControllerRegistry
from framewarden.actions.notifiers import Dispatcher, Message, build_notifiers, parse_target
from framewarden.api.admission import Admission
from framewarden.api.auth import RateLimiter
from framewarden.config import Settings, get_settings
from framewarden.errors import ConfigError
from framewarden.events import EventBus
from framewarden.media.demo import open_source_with_demo
from framewarden.media.frame import Frame
from framewarden.media.image import load_image
from framewarden.moderator import Moderator
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.pipeline.channels import ChannelManager, DuplicateChannelError
from framewarden.pipeline.context import NullEvidenceSink, WorkerContext, preferred_max_side
from framewarden.pipeline.latest_frames import LatestFrames
from framewarden.pipeline.sinks import DispatchNotifier, ServiceAlertSink, StoreEvidenceSink, StoreResultSink
from framewarden.redact import install_log_redaction
from framewarden.result import ModerationResult
from framewarden.rules.models import Rule
from framewarden.store import alerts as alerts_repo
from framewarden.store import channels as channels_repo
from framewarden.store import notifications as notifications_repo
from framewarden.store import rules as rules_repo
from framewarden.store.db import Database, open_database

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings = field(default_factory=get_settings)
    demo: bool = False  # start with the demo channel (serve --demo)
    db: Database = field(init=False)
    bus: EventBus = field(init=False)
    moderator: Moderator = field(init=False)
    batcher: InferenceBatcher = field(init=False)
    dispatcher: Dispatcher = field(init=False)
    alerts: AlertService = field(init=False)
    channels: ChannelManager = field(init=False)
    controllers: ControllerRegistry = field(init=False)
    uploads: Any = field(init=False)  # jobs.uploads.UploadProcessor (imported lazily: speech models)
    live_speech: Any = field(init=False)  # pipeline.live_speech.LiveSpeechManager, when live_transcribe
    image_rate_limiter: RateLimiter = field(init=False)
    image_admission: Admission = field(init=False)
    jobs: Any = field(init=False)  # framewarden.jobs.service.JobService
    latest_frames: LatestFrames = field(default_factory=LatestFrames, init=False)  # dashboard tiles
    _stops: list[Callable[[], Any]] = field(default_factory=list, init=False)
    _escalation_stop: threading.Event = field(default_factory=threading.Event, init=False)
    _rules_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _retention_stop: threading.Event = field(default_factory=threading.Event, init=False)

    # --- start-up, in order -------------------------------------------------------
    def start(self) -> Runtime:
        install_log_redaction()  # before anything can log a source URL (restored channels)
        if self.demo:
            self.settings = demo_settings(self.settings)
        self.start_database()
        self.start_events()
        self.start_analyzers()
        self.start_notifications()
        self.start_alerts()
        self.start_channels()
        self.start_jobs()
        self.start_uploads()
        self.start_live_speech()
        self.start_escalation()
        self.start_retention()
        watch = getattr(self.channels, "watch", None)
        if watch is not None:  # a follower on a Ray cluster: take over when the leader is gone
            watch()
        log.info("framewarden runtime started (data dir %s)", self.settings.data_dir)
        return self

    @property
    def leads(self) -> bool:
        """Whether this process runs the background work: always, but for a follower among
        several API processes of a Ray cluster (engines/ray_leadership.py)."""
        return bool(getattr(self.channels, "leading", True))

    def _leader(self) -> Any:
        """Who runs jobs and uploads when this process does not: the leader, through the relay."""
        return None if self.leads else getattr(self.channels, "peer", None)

    def _take_over(self) -> None:
        """The leading API process of the cluster is gone and this one now leads: start what
        it ran, from the store (channels, unfinished jobs and uploads, live speech)."""
        self.restore_channels()
        self.jobs.take_over()
        self.start_watchers()
        self.uploads.take_over()
        self.start_live_speech()

    def start_database(self) -> None:
        self.db = open_database(self.settings)
        self._stops.append(self.db.close)

    def start_events(self) -> None:
        self.bus = EventBus()

    def start_analyzers(self) -> None:
        self.moderator = Moderator(settings=self.settings)
        self.batcher = InferenceBatcher(
            self.moderator,
            max_batch=self.settings.live_inference_max_batch,
            max_wait_ms=2.0,
            max_queue=self.settings.inference_queue_size,
            lanes=self.settings.live_inference_lanes,
        )
        self.batcher.start()
        self.image_rate_limiter = RateLimiter(self.settings.image_rate_limit_per_minute)
        self.image_admission = Admission(self.settings.inference_queue_size)
        self._stops.append(lambda: self.batcher.close(10.0))

    def start_notifications(self) -> None:
        targets = [parse_target(t) for t in self.settings.notification_targets]
        self.dispatcher = Dispatcher(
            build_notifiers(targets, self.settings),
            recorder=notifications_repo.make_recorder(self.db),
            bus=self.bus,
        )
        from framewarden.api.routers.targets import load_stored_targets  # targets created through the API

        load_stored_targets(self)
        self._stops.append(lambda: self.dispatcher.close(10.0))

    def start_alerts(self) -> None:
        self.alerts = AlertService(
            self.db,
            self.bus,
            escalation_s=self.settings.alert_escalation_s,
            group_s=self.settings.alert_group_s,
        )

    def start_channels(self) -> None:
        self.controllers = ControllerRegistry.from_settings(self.settings)  # a bad entry stops start-up
        alert_sink = ServiceAlertSink(self.alerts)
        context = WorkerContext(
            batcher=self.latest_frames.tap(self.batcher),
            events=self.bus,
            results=StoreResultSink(self.db),
            alerts=alert_sink,
            notifier=DispatchNotifier(self.dispatcher, alert_sink, tuple(self.settings.notify_default)),
            evidence=self.latest_frames.wrap(self._evidence_sink()),
            max_side=preferred_max_side(self.moderator.analyzers),
            open_source=open_source_with_demo,
        )
        if self.settings.engine == "ray":  # channel workers as Ray actors (docs/scale.md)
            from framewarden.engines.ray_leadership import ClusterChannels

            self.channels = ClusterChannels(  # type: ignore[assignment]
                context,
                load_rules=self._load_rules,
                settings=self.settings,
                targets={"jobs": lambda: self.jobs, "uploads": lambda: self.uploads},
                on_lead=self._take_over,
            )
        else:
            rules, versions = self._load_rules()
            self.channels = ChannelManager(
                context, rules=rules, rule_versions=versions, settings=self.settings
            )
        self._stops.append(lambda: self.channels.close(30.0))
        if not self.leads:
            log.warning("another API process runs the channels, jobs and uploads: this one passes them on")
            return
        if self.demo:
            self.add_demo_channel()
        self.restore_channels()

    def start_jobs(self) -> None:
        """Video jobs (and the bucket watchers that feed them) resume what the store holds."""
        from framewarden.jobs.service import JobService

        self.jobs = JobService(
            self.db,
            self.batcher,
            self.settings,
            bus=self.bus,
            dispatcher=self.dispatcher,
            server_analyzers=[a.name for a in self.moderator.analyzers],
            max_side=preferred_max_side(self.moderator.analyzers),
            workers=self.settings.job_workers,
            live_share=self.settings.job_inference_share,
            live_active=self._live_channels,
            leader=self._leader(),
        ).start()
        self._stops.append(lambda: self.jobs.close(10.0))
        self.start_watchers()

    def start_watchers(self) -> None:
        """Bucket watchers turn new objects into jobs (in the leading process only: two would
        race to store the same job)."""
        if self.settings.watch_urls and self.leads:
            from framewarden.jobs.watch import start_server_watchers

            self._stops.append(start_server_watchers(self))

    def _live_channels(self) -> bool:
        return any(s.state.value == "live" for s in self.channels.snapshots())

    def start_uploads(self) -> None:
        from framewarden.jobs.uploads import UploadProcessor

        self.uploads = UploadProcessor(
            self.db,
            self.settings,
            self.batcher,
            self.bus,
            rules=lambda: self._load_rules()[0],
            model_versions=self.moderator.model_versions,
            dispatcher=self.dispatcher,
            leader=self._leader(),
        ).start()
        self._stops.append(lambda: self.uploads.close(30.0))

    def start_live_speech(self) -> None:
        """Transcribe live channels' audio (only when live_transcribe is set: it costs CPU)."""
        if not self.settings.live_transcribe or not self.leads:  # the leader transcribes them
            return
        from framewarden.actions.evidence import EvidenceStore
        from framewarden.pipeline.live_speech import LiveSpeech, LiveSpeechManager, evidence_writer
        from framewarden.speech import SpeechConfig, get_transcriber

        transcriber = get_transcriber(SpeechConfig.model_validate(self.settings.speech_options))
        evidence = evidence_writer(EvidenceStore.from_settings(self.settings))

        def factory(name: str, source: str) -> LiveSpeech:
            return LiveSpeech(
                name,
                source,
                transcriber=transcriber,
                judge=self.text_judge(),
                bus=self.bus,
                max_lag_s=self.settings.live_audio_max_lag_s,
                evidence=evidence,
            )

        self.live_speech = LiveSpeechManager(self.channels.snapshots, factory).start()
        self._stops.append(lambda: self.live_speech.close(10.0))

    def start_escalation(self, period_s: float = 5.0) -> None:
        if self.settings.alert_escalation_s <= 0:
            return
        thread = threading.Thread(
            target=self._escalate_loop, args=(period_s,), name="fw-escalation", daemon=True
        )
        thread.start()
        self._stops.append(self._escalation_stop.set)

    def start_retention(self) -> None:
        """Prune old results, notifications and resolved alerts every ``retention_interval_s``."""
        if self.settings.retention_interval_s <= 0:
            return
        thread = threading.Thread(target=self._retention_loop, name="fw-retention", daemon=True)
        thread.start()
        self._stops.append(self._retention_stop.set)

    def _retention_loop(self) -> None:
        from framewarden.store.retention import RetentionPolicy, prune

        policy = RetentionPolicy.from_settings(self.settings)
        while True:  # first pass at start: a server that was down for a while catches up
            try:
                prune(self.db, policy)
            except Exception:
                log.exception("retention pass failed")
            if self._retention_stop.wait(self.settings.retention_interval_s):
                return

    # --- shut-down ------------------------------------------------------------------
    def stop(self) -> None:
        """Drain workers, flush notifications, close the database (reverse order)."""
        while self._stops:
            step = self._stops.pop()
            try:
                step()
            except Exception:
                log.exception("shutdown step failed")

    # --- rules and channels -------------------------------------------------------------
    def _load_rules(self) -> tuple[list[Rule], dict[str, int]]:
        with self.db.read() as session:
            rows = rules_repo.list_rules(session, enabled=True)
            return [Rule.model_validate(r.body) for r in rows], {r.id: r.version for r in rows}

    def reload_rules(self) -> set[str]:
        """Apply the stored rules to running channels; returns the affected channels."""
        with self._rules_lock:
            rules, versions = self._load_rules()
            return self.channels.set_rules(rules, versions)

    def restore_channels(self) -> None:
        """Channels stored as running start again after a restart.

        Each is checked again (source and controller against today's settings);
        one that no longer passes is held in ``error`` with the reason.
        """
        with self.db.read() as session:
            stored = [
                (c.name, c.source_url, c.controller_name, c.trusted, c.desired_state)
                for c in channels_repo.list_channels(session)
            ]
        for name, source, controller_name, trusted, desired in stored:
            try:
                self.channels.add(
                    name,
                    source,
                    controller=self.controllers.build(controller_name, source=source),
                    trusted=trusted,
                    start=desired == "running",
                )
            except DuplicateChannelError:
                log.info("channel %s is already running", name)
            except ConfigError as exc:
                log.error("channel %s held in error: %s", name, exc)
                self.channels.hold(name, source, str(exc), trusted=trusted)
            except Exception as exc:  # a bad stored channel must not stop the server
                log.error("channel %s not restored: %s", name, exc)
        release = getattr(self.channels, "release_orphans", None)
        if release is not None:  # Ray: actors left running for channels deleted meanwhile
            release()

    # --- actions the API asks for ------------------------------------------------------
    def image_frame(self, data: bytes, source: str) -> Frame:
        """Decode one pushed image into a frame of its own (typed errors for bad bytes)."""
        image = load_image(data, source=source, max_pixels=self.settings.max_image_pixels)
        # A unique channel per image: per-channel analyzer state (OCR interval) must not carry over.
        return Frame(
            channel=f"image:{uuid.uuid4().hex}", seq=0, pts_ms=0.0, image=image.rgb, captured_at=time.time()
        )

    def moderate_bytes(self, data: bytes, source: str) -> ModerationResult:
        """One pushed image through the shared batcher (one inference thread for everything).

        Never waits for room: a full queue or a result later than
        ``image_timeout_s`` raises :class:`InferenceSaturatedError`, and a
        frame that timed out is cancelled in the queue.
        """
        from concurrent.futures import TimeoutError as FutureTimeout

        from framewarden.pipeline.batcher import InferenceSaturatedError

        future = self.batcher.submit(self.image_frame(data, source), block=False)
        try:
            result = future.result(timeout=self.settings.image_timeout_s)
        except FutureTimeout:
            future.cancel()
            raise InferenceSaturatedError(
                f"no inference result within {self.settings.image_timeout_s:g} s",
                self.batcher.retry_after_s(),
            ) from None
        result.source = source
        return result

    def text_judge(self) -> Any:
        """The judge of chat and live speech (pipeline.text_judge.TextJudge), built once."""
        if getattr(self, "_text_judge", None) is None:
            from framewarden.pipeline.text_judge import TextJudge
            from framewarden.text.moderate import get_moderator
            from framewarden.text.shared import text_config

            self._text_judge = TextJudge(
                lambda: get_moderator(text_config(self.settings)), lambda: self.channels.rules, self.alerts
            )
        return self._text_judge

    def stop_stream(self, channel: str, by: str, *, alert_ids: Sequence[int] | None = None) -> None:
        """Drop the channel's publisher at the streaming server and stop analyzing it.

        A controller failure is recorded (``auto_stop_failed``) on ``alert_ids``
        (default: the channel's open alerts), which stay open, then re-raised.
        """
        log.warning("stream stop of channel %s requested by %s", channel, by)
        try:
            self.channels.stop_stream(channel)
        except ControllerError as exc:
            if alert_ids is None:
                with self.db.read() as session:
                    page = alerts_repo.list_alerts(session, channel=channel, status="open", limit=1000)
                    alert_ids = [a.id for a in page.items]
            for alert_id in alert_ids:
                self.alerts.stop_failed(alert_id, by=by, reason=exc.reason)
            raise

    def create_key(self, name: str, role: str) -> str:
        """A new API key (the full key; only its hash is stored)."""
        from framewarden.store import keys as keys_repo

        with self.db.begin() as session:
            _, full = keys_repo.create_key(session, name=name, role=role)  # type: ignore[arg-type]
        return full

    def count_keys(self) -> int:
        from framewarden.store import keys as keys_repo

        with self.db.read() as session:
            return len(keys_repo.list_keys(session))

    def add_demo_channel(self) -> None:
        """The demo channel and its rule, stored like any other (idempotent)."""
        with self.db.begin() as session:
            if rules_repo.get_rule(session, rule_id=DEMO_RULE.id) is None:
                rules_repo.create_rule(session, body=DEMO_RULE, author="framewarden --demo")
            if channels_repo.get_channel(session, name="demo") is None:
                channels_repo.create_channel(
                    session, name="demo", source_url="demo:", desired_state="running"
                )
            else:
                channels_repo.update_channel(session, name="demo", desired_state="running")
        self.reload_rules()

    # --- escalation -------------------------------------------------------------------
    def _escalate_loop(self, period_s: float) -> None:
        while not self._escalation_stop.wait(period_s):
            try:
                for alert in self.alerts.escalate_due():
                    targets = tuple(alert.notify or ()) or tuple(self.settings.notify_default)
                    if targets:
                        message = Message(
                            kind="alert_updated",
                            channel=alert.channel,
                            alert_id=alert.id,
                            summary=f"[escalated] alert {alert.id} on channel {alert.channel} is still open "
                            f"(level {alert.escalation_level})",
                            rule_id=alert.rule_id or "",
                            payload=alert_payload(alert),
                        )
                        self.dispatcher.submit(targets, message)
            except Exception:
                log.exception("escalation pass failed")

    def _evidence_sink(self) -> Any:
        try:
            from framewarden.actions.evidence import EvidenceStore
        except ImportError:  # pragma: no cover - evidence store not installed
            return NullEvidenceSink()
        from framewarden.actions.evidence_queue import EvidenceUploader

        # Uploads run on their own thread, off the channels' frame path.
        uploader = EvidenceUploader(
            EvidenceStore.from_settings(self.settings), max_queue=self.settings.evidence_queue_size
        ).start()
        self._stops.append(lambda: uploader.close(10.0))
        return StoreEvidenceSink(uploader, keep_clean=self.settings.evidence_keep_clean)


DEMO_PHRASE = "forbidden demo phrase"
DEMO_RULE = Rule.model_validate(
    {
        "id": "demo",
        "description": "Demo channel: flags the phrase the bundled clip shows from 6 s to 10 s.",
        "channel": "demo",
        "sample_interval_s": 1.0,
        "labels": {"Offensive Text": 50, "Explicit": {"alert": 60}},
    }
)


def demo_settings(settings: Settings) -> Settings:
    """Settings for --demo: the demo: scheme allowed, the demo phrase blocklisted."""
    options = {k: dict(v) for k, v in settings.analyzer_options.items()}
    ocr = options.setdefault("ocr_text", {})
    ocr["blocklist"] = [*ocr.get("blocklist", []), DEMO_PHRASE]
    ocr.setdefault("interval_s", 1.0)
    analyzers = list(settings.analyzers)
    if "ocr_text" not in analyzers:
        analyzers.append("ocr_text")
    schemes = [*settings.allowed_source_schemes, "demo"]
    return settings.model_copy(
        update={"analyzer_options": options, "analyzers": analyzers, "allowed_source_schemes": schemes}
    )
