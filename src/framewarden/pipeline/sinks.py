"""Store-backed implementations of the channel worker's sinks.

The worker only knows the one-method protocols of
:mod:`framewarden.pipeline.context`; these adapters connect them to the
database (results), the alert service, the notification dispatcher and the
evidence store when the server runs: in the API's process for the local engine, in
each channel actor for the Ray engine (which is why they live here and not in ``api``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from framewarden import taxonomy
from framewarden.actions.alerts import AlertService, RecordedAlert
from framewarden.actions.notifiers import Dispatcher, Message
from framewarden.media.frame import Frame
from framewarden.pipeline.context import FrameRecord
from framewarden.result import ModerationLabel
from framewarden.rules.verdict import Verdict
from framewarden.store import results as results_repo
from framewarden.store.db import Database

log = logging.getLogger(__name__)


def rekognition_labels(labels: Mapping[str, float]) -> list[dict[str, Any]]:
    """``{name: confidence}`` (ancestors included) -> Rekognition-shaped label dicts, tags left out."""
    nodes = [taxonomy.node(name) for name in labels if taxonomy.is_label(name)]
    found = [ModerationLabel(n.name, n.parent, n.level, float(labels[n.name])) for n in nodes]
    found.sort(key=lambda lab: (lab.taxonomy_level, -lab.confidence, lab.name))  # as result.rollup
    return [lab.to_rekognition() for lab in found]


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class StoreResultSink:
    """One row per analyzed frame in the results table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, record: FrameRecord) -> None:
        with self.db.begin() as session:
            results_repo.add_result(
                session,
                channel=record.channel,
                labels=rekognition_labels(record.labels),
                frame_seq=record.seq,
                pts_ms=record.pts_ms,
                captured_at=_utc(record.captured_at),
                analyzed_at=_utc(record.decided_at),
                evidence_key=record.evidence_key or None,
            )


class ServiceAlertSink:
    """Every flagged verdict becomes an alert or a repeat of an open one (auto-stops included).

    It remembers, per channel, what the latest verdict became, so the
    :class:`DispatchNotifier` that the worker calls next for the same verdict
    (same thread, per channel) can tell a new alert from a repeat.
    """

    def __init__(self, service: AlertService) -> None:
        self.service = service
        self.last_alert_ids: dict[str, int] = {}
        self._last: dict[str, tuple[Verdict, RecordedAlert]] = {}

    def raise_alert(self, verdict: Verdict, record: FrameRecord, stopped: bool | None = None) -> None:
        recorded = self.service.record_verdict(
            verdict, evidence_key=record.evidence_key or None, stopped=stopped
        )
        if recorded is None:
            self._last.pop(verdict.channel, None)
            return
        self.last_alert_ids[verdict.channel] = recorded.alert.id
        self._last[verdict.channel] = (verdict, recorded)

    def outcome(self, verdict: Verdict) -> RecordedAlert | None:
        """What :meth:`raise_alert` made of this very verdict; None if it was not (or failed) recorded.

        Matched by identity, not by channel alone: when raising the alert
        failed, the channel's previous outcome must not be mistaken for this one.
        """
        last = self._last.get(verdict.channel)
        return last[1] if last is not None and last[0] is verdict else None


class DispatchNotifier:
    """Hands flagged verdicts that opened a new alert to the notification dispatcher (never blocks).

    A repeat folded into an open alert sends nothing: moderators were told when
    it opened, and escalation re-notifies if it stays open.  A verdict whose
    alert could not be recorded is still sent (with no alert id): missing a
    violation is worse than one extra message.
    """

    def __init__(
        self, dispatcher: Dispatcher, alerts: ServiceAlertSink, default_targets: tuple[str, ...] = ()
    ) -> None:
        self.dispatcher = dispatcher
        self.alerts = alerts
        self.default_targets = default_targets

    def notify(self, verdict: Verdict, record: FrameRecord) -> None:
        targets = verdict.notify or self.default_targets
        if not targets:
            return
        recorded = self.alerts.outcome(verdict)
        if recorded is not None and recorded.repeat:
            return
        message = Message.from_verdict(verdict, alert_id=recorded.alert.id if recorded else None)
        self.dispatcher.submit(targets, message)


class StoreEvidenceSink:
    """Keeps flagged frames (and clean ones when configured) in the evidence store."""

    def __init__(self, store: Any, *, keep_clean: bool = False) -> None:
        self.store = store
        self.keep_clean = keep_clean

    def keep(self, frame: Frame, record: FrameRecord) -> str:
        if not record.flagged and not self.keep_clean:
            return ""
        key: str = self.store.keep(
            frame.image,
            record.to_dict(),
            channel=record.channel,
            flagged=record.flagged,
            at=_utc(record.captured_at),
        )
        return key
