"""The alert service: turns verdicts into alerts and carries them through review.

Every verdict with violations becomes an alert, auto-stops included: an
auto-stopped stream leaves an alert in ``stream_stopped`` with an
"auto_stop by system" history entry, so a moderator can still review (and
dismiss) what the machine did on its own.  Moderators move alerts along the
lifecycle of :mod:`framewarden.store.alerts` under their own name; an alert
left open longer than ``Settings.alert_escalation_s`` is escalated (severity
up one level) and re-published so notifiers send it again.

Each public method is one transaction; events ("alert", "alert_updated") are
published after the commit, so a subscriber that reads the store sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

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
    }


class AlertService:
    """Alerts for verdicts, their review by moderators, and their escalation."""

    def __init__(
        self,
        db: Database,
        bus: EventBus | None = None,
        *,
        escalation_s: float | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._db = db
        self._bus = bus or EventBus()
        self._escalation_s = get_settings().alert_escalation_s if escalation_s is None else escalation_s
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
        """The alert for ``verdict``, or None when it has no violations.

        For an auto-stop verdict, ``stopped`` says whether the stream controller
        did stop the stream (default: assume it did); a failed stop leaves the
        alert open with an "auto_stop_failed" entry, so a human acts.
        """
        if not verdict.flagged:
            return None
        now = self._clock()
        with self._db.begin() as session:
            alert = repo.create_alert(
                session,
                channel=verdict.channel,
                severity=verdict.severity,
                violations=[v.to_dict() for v in verdict.violations],
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
        self._publish("alert", alert)
        return alert

    # --- review -----------------------------------------------------------
    def confirm(self, alert_id: int, *, by: str, note: str | None = None) -> Alert:
        return self.transition(alert_id, "confirmed", by=by, note=note)

    def dismiss(self, alert_id: int, *, by: str, note: str | None = None) -> Alert:
        return self.transition(alert_id, "dismissed", by=by, note=note)

    def stop_stream(self, alert_id: int, *, by: str, note: str | None = None) -> Alert:
        """Record that a moderator stopped the stream (the controller call is the caller's)."""
        return self.transition(alert_id, "stream_stopped", by=by, note=note)

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
        with self._db.begin() as session:
            alert = repo.require_alert(session, alert_id=alert_id)
            repo.add_event(
                session,
                alert_id=alert_id,
                actor=by,
                action="note",
                from_status=alert.status,
                to_status=alert.status,
                note=note,
                at=self._clock(),
            )

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
