"""The alert service: turns verdicts into alerts and carries them through review.

Every verdict with violations becomes an alert, auto-stops included: an
auto-stopped stream leaves an alert in ``stream_stopped`` with an
"auto_stop by system" history entry, so a moderator can still review (and
dismiss) what the machine did on its own.  Moderators move alerts along the
lifecycle of :mod:`framewarden.store.alerts` under their own name; an alert
left open longer than ``Settings.alert_escalation_s`` is escalated (severity
up one level) and re-published so notifiers send it again.

Repeats are grouped: a verdict without auto-stop whose top label matches an
open alert of the same channel seen within ``Settings.alert_group_s`` adds an
occurrence to that alert (published as "alert_updated") instead of opening a
new one, so a violation on screen for a minute is one alert and one
notification, not sixty.  Auto-stops never group: each changes the stream's
state and must leave its own audit record.

Each public method is one transaction; events ("alert", "alert_updated") are
published after the commit, so a subscriber that reads the store sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from framewarden.config import get_settings
from framewarden.events import Event, EventBus
from framewarden.rules.verdict import Verdict
from framewarden.store import alerts as repo
from framewarden.store.db import Database
from framewarden.store.models import Alert, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The JSON view of an alert used in events (and fit for API responses)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": alert.id,
        "channel": alert.channel,
        "status": alert.status,
        "severity": alert.severity,
        "top_label": alert.top_label,
        "peak_confidence": alert.peak_confidence,
        "labels": list(alert.labels),
        "violations": list(alert.violations),
        "actions": list(alert.actions),
        "notify": list(alert.notify),
        "rule_id": alert.rule_id,
        "rule_version": alert.rule_version,
        "frame_seq": alert.frame_seq,
        "pts_ms": alert.pts_ms,
        "result_id": alert.result_id,
        "evidence_key": alert.evidence_key,
        "created_at": iso(alert.created_at),
        "updated_at": iso(alert.updated_at),
        "escalated_at": iso(alert.escalated_at),
        "escalation_level": alert.escalation_level,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": iso(alert.acknowledged_at),
        "note": alert.note,
        "occurrences": alert.occurrences,
        "last_seen_at": iso(alert.last_seen_at),
    }


@dataclass(frozen=True, slots=True)
class RecordedAlert:
    """What :meth:`AlertService.record_verdict` did with a verdict.

    ``repeat`` is True when the verdict was folded into an open alert (its
    ``occurrences`` went up) rather than opening one: notifiers use it to tell
    people once per incident, not once per frame.
    """

    alert: Alert
    repeat: bool

    @property
    def is_new(self) -> bool:
        return not self.repeat


class AlertService:
    """Alerts for verdicts, their review by moderators, and their escalation."""

    def __init__(
        self,
        db: Database,
        bus: EventBus | None = None,
        *,
        escalation_s: float | None = None,
        group_s: float | None = None,
        clock: Clock = utcnow,
    ) -> None:
        """``escalation_s`` / ``group_s``: None = the process settings (0 = never escalate / group)."""
        self._db = db
        self._bus = bus or EventBus()
        settings = get_settings()
        self._escalation_s = settings.alert_escalation_s if escalation_s is None else escalation_s
        self._group_s = settings.alert_group_s if group_s is None else group_s
        self._clock = clock

    # --- creation ---------------------------------------------------------
    def record(
        self,
        verdict: Verdict,
        *,
        result_id: int | None = None,
        evidence_key: str | None = None,
        stopped: bool | None = None,
    ) -> Alert | None:
        """The alert for ``verdict`` (new or grouped), or None when it has no violations.

        Kept for callers that only need the alert; :meth:`record_verdict` also
        says whether it was a repeat.
        """
        recorded = self.record_verdict(
            verdict, result_id=result_id, evidence_key=evidence_key, stopped=stopped
        )
        return recorded.alert if recorded else None

    def record_verdict(
        self,
        verdict: Verdict,
        *,
        result_id: int | None = None,
        evidence_key: str | None = None,
        stopped: bool | None = None,
    ) -> RecordedAlert | None:
        """Open an alert for ``verdict``, or fold it into the open one it repeats; None when clean.

        A verdict without auto-stop whose top label matches an open alert of the
        same channel seen within ``group_s`` is a repeat: that alert's
        occurrences, last_seen_at, peak confidence, severity and labels are
        updated and "alert_updated" is published.  Otherwise a new alert opens
        ("alert").  For an auto-stop verdict, ``stopped`` says whether the stream
        controller did stop the stream (default: assume it did); a failed stop
        leaves the alert open with an "auto_stop_failed" entry, so a human acts.
        """
        if not verdict.flagged:
            return None
        now = self._clock()
        violations = [v.to_dict() for v in verdict.violations]
        with self._db.begin() as session:
            grouped = None
            if self._group_s > 0 and not verdict.stops_stream:
                grouped = self._fold_repeat(session, verdict, violations, now)
            if grouped is not None:
                recorded = RecordedAlert(grouped, repeat=True)
            else:
                alert = self._create(session, verdict, violations, result_id, evidence_key, stopped, now)
                recorded = RecordedAlert(alert, repeat=False)
        if recorded.repeat:
            self._publish("alert_updated", recorded.alert, repeat=True)
        else:
            self._publish("alert", recorded.alert)
        return recorded

    def _fold_repeat(
        self, session: Session, verdict: Verdict, violations: list[dict[str, Any]], now: datetime
    ) -> Alert | None:
        """The open alert ``verdict`` repeats, updated; None when a new alert must open.

        Takes the channel's lock first, so the caller's create (when this finds
        nothing) cannot race another writer's create of the same incident.
        """
        peak = repo.peak_violation(violations)
        if peak is None:
            return None
        repo.lock_channel_alerts(session, channel=verdict.channel)
        alert = repo.find_groupable_alert(
            session,
            channel=verdict.channel,
            top_label=str(peak["label"]),
            since=now - timedelta(seconds=self._group_s),
        )
        if alert is None:
            return None
        if not repo.record_occurrence(
            session,
            alert=alert,
            severity=verdict.severity,
            violations=violations,
            actions=[a.value for a in verdict.actions],
            at=now,
        ):
            return None
        session.refresh(alert)
        return alert

    def _create(
        self,
        session: Session,
        verdict: Verdict,
        violations: list[dict[str, Any]],
        result_id: int | None,
        evidence_key: str | None,
        stopped: bool | None,
        now: datetime,
    ) -> Alert:
        alert = repo.create_alert(
            session,
            channel=verdict.channel,
            severity=verdict.severity,
            violations=violations,
            actions=[a.value for a in verdict.actions],
            notify=verdict.notify,
            rule_id=verdict.rule_id,
            rule_version=verdict.rule_version,
            frame_seq=verdict.frame_seq,
            pts_ms=verdict.pts_ms,
            result_id=result_id,
            evidence_key=evidence_key,
            at=now,
        )
        if verdict.stops_stream:
            if stopped is False:
                repo.add_event(
                    session,
                    alert_id=alert.id,
                    actor=repo.SYSTEM,
                    action="auto_stop_failed",
                    note="the stream controller could not stop the stream",
                    at=now,
                )
            else:
                alert = repo.transition_alert(
                    session,
                    alert_id=alert.id,
                    to="stream_stopped",
                    actor=repo.SYSTEM,
                    action="auto_stop",
                    note=f"auto_stop by system (rule {verdict.rule_id} v{verdict.rule_version})",
                    at=now,
                )
        return alert

    # --- review -----------------------------------------------------------
    def confirm(self, alert_id: int, *, by: str, note: str | None = None) -> Alert:
        return self.transition(alert_id, "confirmed", by=by, note=note)

    def dismiss(self, alert_id: int, *, by: str, note: str | None = None) -> Alert:
        return self.transition(alert_id, "dismissed", by=by, note=note)

    def stop_stream(self, alert_id: int, *, by: str, note: str | None = None) -> Alert:
        """Record that a moderator stopped the stream (the controller call is the caller's)."""
        return self.transition(alert_id, "stream_stopped", by=by, note=note)

    def stop_failed(self, alert_id: int, *, by: str, reason: str) -> Alert:
        """Record that ``by`` asked to stop the stream and the controller failed; the alert stays open."""
        alert = self._record_event(
            alert_id, by=by, action="auto_stop_failed", note=f"stop-stream failed: {reason}"
        )
        self._publish("alert_updated", alert)
        return alert

    def transition(self, alert_id: int, to: repo.Status, *, by: str, note: str | None = None) -> Alert:
        """Move one alert; raises NotFoundError or ConflictError (illegal move)."""
        with self._db.begin() as session:
            alert = repo.transition_alert(
                session, alert_id=alert_id, to=to, actor=by, note=note, at=self._clock()
            )
        self._publish("alert_updated", alert)
        return alert

    def acknowledge_channel(
        self, channel: str, *, by: str, to: repo.Status = "confirmed", note: str | None = None
    ) -> list[Alert]:
        """Move every open alert of exactly ``channel`` (never a channel sharing its prefix)."""
        with self._db.begin() as session:
            ids = repo.transition_channel(
                session, channel=channel, to=to, actor=by, note=note, at=self._clock()
            )
            changed = [repo.require_alert(session, alert_id=i) for i in ids]
        for alert in changed:
            self._publish("alert_updated", alert)
        return changed

    def add_note(self, alert_id: int, *, by: str, note: str) -> None:
        self._record_event(alert_id, by=by, action="note", note=note)

    def _record_event(self, alert_id: int, *, by: str, action: str, note: str) -> Alert:
        """An entry in the alert's history that leaves its status as it is."""
        with self._db.begin() as session:
            alert = repo.require_alert(session, alert_id=alert_id)
            repo.add_event(
                session,
                alert_id=alert_id,
                actor=by,
                action=action,
                from_status=alert.status,
                to_status=alert.status,
                note=note,
                at=self._clock(),
            )
            session.refresh(alert)
        return alert

    # --- escalation -------------------------------------------------------
    def escalate_due(self, now: datetime | None = None) -> list[Alert]:
        """Escalate alerts open for ``escalation_s`` since creation (or their last escalation).

        Returns the escalated alerts (and publishes "alert_updated" for each) so
        their notifications can be sent again.  ``escalation_s == 0``: never.
        """
        if self._escalation_s <= 0:
            return []
        now = now or self._clock()
        escalated: list[Alert] = []
        with self._db.begin() as session:
            due = repo.alerts_due_for_escalation(
                session, older_than=now - timedelta(seconds=self._escalation_s)
            )
            for alert in due:
                if repo.escalate_alert(session, alert=alert, at=now):
                    session.refresh(alert)
                    escalated.append(alert)
        for alert in escalated:
            log.info("alert %s of %s escalated to level %s", alert.id, alert.channel, alert.escalation_level)
            self._publish("alert_updated", alert, escalated=True)
        return escalated

    def _publish(self, kind: str, alert: Alert, **extra: Any) -> None:
        payload = alert_payload(alert) | extra
        self._bus.publish(Event(kind=kind, payload=payload, channel=alert.channel))
