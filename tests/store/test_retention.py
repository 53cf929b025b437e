"""Retention: old live results, notifications and resolved alerts go; everything else stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from framewarden.store import alerts, jobs, notifications, results
from framewarden.store.db import Database
from framewarden.store.models import Alert, AlertEvent, Notification, Result
from framewarden.store.retention import RetentionPolicy, count_prunable, prune

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
NEW = NOW - timedelta(days=1)


def _count(db: Database, table: type) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _seed(db: Database) -> dict[str, int]:
    with db.begin() as s:
        job = jobs.create_job(s, kind="video", inputs={"uri": "x.mp4"})
        old_live = results.add_result(s, channel="c", analyzed_at=OLD).id
        results.add_result(s, channel="c", analyzed_at=NEW)
        results.add_result(s, channel="c", job_id=job.id, analyzed_at=OLD)  # a job's: kept
        ids = {}
        for name, status, at in [
            ("old_dismissed", "dismissed", OLD),
            ("old_confirmed", "confirmed", OLD),
            ("old_open", "open", OLD),
            ("old_stopped", "stream_stopped", OLD),
            ("new_dismissed", "dismissed", NEW),
        ]:
            alert = alerts.create_alert(
                s,
                channel="c",
                severity=1,
                violations=[{"label": "Weapons", "confidence": 90}],
                status=status,  # type: ignore[arg-type]
                result_id=old_live,
                at=at,
            )
            alert.updated_at = at
            ids[name] = alert.id
        notifications.record_notification(s, target="hook", alert_id=ids["old_dismissed"], attempt=1,
                                           status="sent", at=OLD)  # fmt: skip
        notifications.record_notification(s, target="hook", alert_id=ids["old_open"], attempt=1,
                                           status="failed", at=NEW)  # fmt: skip
    return ids


def test_prune_follows_the_policy(db: Database) -> None:
    ids = _seed(db)
    policy = RetentionPolicy(results_days=30, notifications_days=30, resolved_alerts_days=30)
    with db.read() as s:
        planned = count_prunable(s, policy, now=NOW)
    report = prune(db, policy, now=NOW, batch=1)  # batch=1: the loop over batches is exercised
    assert (report.results, report.notifications, report.alerts) == (1, 1, 2)
    assert planned == report
    with db.read() as s:
        kept = set(s.scalars(select(Alert.id)).all())
        assert kept == {ids["old_open"], ids["old_stopped"], ids["new_dismissed"]}
        assert all(a.result_id is None for a in s.scalars(select(Alert)))  # its result went
        events = set(s.scalars(select(AlertEvent.alert_id)).all())
        assert events == kept, "history goes with its alert"
        assert [n.alert_id for n in s.scalars(select(Notification))] == [ids["old_open"]]
        assert s.scalar(select(func.count()).select_from(Result).where(Result.job_id.is_not(None))) == 1
    assert _count(db, Result) == 2
    again = prune(db, policy, now=NOW)
    assert again.total == 0


def test_zero_days_keeps_forever(db: Database) -> None:
    _seed(db)
    before = (_count(db, Result), _count(db, Notification), _count(db, Alert))
    report = prune(db, RetentionPolicy(0, 0, 0), now=NOW + timedelta(days=3650))
    assert report.total == 0
    assert (_count(db, Result), _count(db, Notification), _count(db, Alert)) == before
