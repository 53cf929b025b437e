"""The delivery log and the recorder handed to the notifier dispatcher."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from framewarden.store import alerts, notifications
from framewarden.store.db import Database


def _alert(db: Database) -> int:
    with db.begin() as s:
        return alerts.create_alert(
            s, channel="c", severity=1, violations=[{"label": "Weapons", "confidence": 90}]
        ).id


def test_recorder_logs_attempts_from_threads(db: Database) -> None:
    alert_id = _alert(db)
    record = notifications.make_recorder(db)
    t0 = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    calls = [
        ("hook", alert_id, 1, "failed", "HTTP 500", t0),
        ("hook", alert_id, 2, "sent", None, t0 + 2),
        ("mail", alert_id, 1, "sent", None, datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC)),
    ]
    threads = [threading.Thread(target=record, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.read() as s:
        log = notifications.list_alert_notifications(s, alert_id=alert_id)
        failed = notifications.list_notifications(s, status="failed").items
    assert [(n.target, n.attempt, n.status) for n in log] == [
        ("hook", 1, "failed"),
        ("mail", 1, "sent"),
        ("hook", 2, "sent"),
    ]
    assert log[0].at == datetime(2025, 1, 1, tzinfo=UTC)
    assert [(n.target, n.error) for n in failed] == [("hook", "HTTP 500")]


def test_log_survives_the_alert(db: Database) -> None:
    alert_id = _alert(db)
    with db.begin() as s:
        notifications.record_notification(s, target="hook", alert_id=alert_id, attempt=1, status="sent")
        s.delete(alerts.require_alert(s, alert_id=alert_id))
    with db.read() as s:
        rows = notifications.list_notifications(s, target="hook").items
    assert [(n.alert_id, n.status) for n in rows] == [(None, "sent")]
