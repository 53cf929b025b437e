"""Retention: bounded storage for a server left running for months.

Three kinds of rows grow without end: one ``results`` row per analyzed frame
of every live channel, one ``notifications`` row per delivery attempt, and
alerts nobody will look at again once a moderator resolved them.  A
:class:`RetentionPolicy` gives each an age limit in days (0 = keep forever);
:func:`prune` deletes what is older, in small batches so a SQLite writer never
holds the lock for long (live channels keep recording in between).

What is never pruned here: results of jobs (they belong to their job and go
with it), open and ``stream_stopped`` alerts (still awaiting a decision),
channels, rules and keys.  Alert labels and review history go with their
alert (``ON DELETE CASCADE``); notifications and results that pointed at a
deleted alert or result keep their row with the link set to NULL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from framewarden.store.db import Database
from framewarden.store.models import Alert, Notification, Result, utcnow

log = logging.getLogger(__name__)

RESOLVED = ("confirmed", "dismissed")
BATCH = 2000  # rows per transaction: short write locks


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Age limits in days; 0 keeps that kind forever."""

    results_days: float = 30.0
    notifications_days: float = 90.0
    resolved_alerts_days: float = 365.0

    @classmethod
    def from_settings(cls, settings: Any) -> RetentionPolicy:
        return cls(
            results_days=settings.retention_results_days,
            notifications_days=settings.retention_notifications_days,
            resolved_alerts_days=settings.retention_resolved_alerts_days,
        )


@dataclass(frozen=True, slots=True)
class PruneReport:
    """How many rows were (or, on a dry run, would be) deleted."""

    results: int = 0
    notifications: int = 0
    alerts: int = 0

    @property
    def total(self) -> int:
        return self.results + self.notifications + self.alerts


def _cutoff(now: datetime, days: float) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def _targets(policy: RetentionPolicy, now: datetime) -> list[tuple[str, Any, Any, list[Any]]]:
    """(kind, table, id column, where clauses) for each kind with a limit."""
    out: list[tuple[str, Any, Any, list[Any]]] = []
    if (cut := _cutoff(now, policy.results_days)) is not None:
        out.append(("results", Result, Result.id, [Result.job_id.is_(None), Result.analyzed_at < cut]))
    if (cut := _cutoff(now, policy.notifications_days)) is not None:
        out.append(("notifications", Notification, Notification.id, [Notification.at < cut]))
    if (cut := _cutoff(now, policy.resolved_alerts_days)) is not None:
        out.append(("alerts", Alert, Alert.id, [Alert.status.in_(RESOLVED), Alert.updated_at < cut]))
    return out


def count_prunable(session: Session, policy: RetentionPolicy, *, now: datetime | None = None) -> PruneReport:
    """What :func:`prune` would delete now (``db prune --dry-run``)."""
    counts: dict[str, int] = {}
    for kind, table, _, where in _targets(policy, now or utcnow()):
        counts[kind] = int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)
    return PruneReport(**counts)


def prune(
    db: Database, policy: RetentionPolicy, *, now: datetime | None = None, batch: int = BATCH
) -> PruneReport:
    """Delete what the policy no longer keeps; one short transaction per ``batch`` rows."""
    when = now or utcnow()
    counts: dict[str, int] = {}
    for kind, table, id_col, where in _targets(policy, when):
        total = 0
        while True:
            with db.begin() as session:
                ids = session.scalars(select(id_col).where(*where).order_by(id_col).limit(batch)).all()
                if ids:
                    session.execute(delete(table).where(id_col.in_(ids)))
            total += len(ids)
            if len(ids) < batch:
                break
        counts[kind] = total
    report = PruneReport(**counts)
    if report.total:
        log.info(
            "retention: deleted %d results, %d notifications, %d resolved alerts",
            report.results,
            report.notifications,
            report.alerts,
        )
    return report
