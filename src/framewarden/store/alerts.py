"""Alerts and their review history, with the status machine enforced in SQL.

Lifecycle::

    open ──► confirmed | dismissed | stream_stopped
    stream_stopped ──► confirmed | dismissed     (a moderator reviews an auto-stop)

confirmed and dismissed are final.  A transition is one conditional
``UPDATE ... WHERE status IN (allowed sources) RETURNING id``, so two
moderators (or a moderator and the escalation timer) racing on one alert
cannot both win, on SQLite and PostgreSQL alike.  Every change appends an
``alert_events`` row: who, what, when, why.

Grouping: a violation on screen for a minute is one incident, not sixty.
:func:`find_groupable_alert` finds the open alert of a channel with the same
top label seen within a window, and :func:`record_occurrence` folds a repeat
into it (``occurrences`` + 1 in SQL).  A repeat adds no history entry: the
history is what people and the system *did*, and stays readable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import case, func, insert, literal, select, update
from sqlalchemy.orm import Session

from framewarden import taxonomy
from framewarden.errors import InputError
from framewarden.store.errors import ConflictError, NotFoundError
from framewarden.store.models import Alert, AlertEvent, AlertLabel, utcnow
from framewarden.store.pagination import Page, paginate

Status = Literal["open", "confirmed", "dismissed", "stream_stopped"]
STATUSES: tuple[str, ...] = ("open", "confirmed", "dismissed", "stream_stopped")
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"confirmed", "dismissed", "stream_stopped"}),
    "stream_stopped": frozenset({"confirmed", "dismissed"}),
    "confirmed": frozenset(),
    "dismissed": frozenset(),
}
MAX_SEVERITY = 5
SYSTEM = "system"  # the actor of changes nobody clicked


def sources_of(to: str) -> tuple[str, ...]:
    """The statuses an alert may move to ``to`` from."""
    if to not in STATUSES:
        raise InputError("status", f"{to!r} is not one of {', '.join(STATUSES)}")
    return tuple(sorted(s for s, targets in TRANSITIONS.items() if to in targets))


def create_alert(
    session: Session,
    *,
    channel: str,
    severity: int,
    violations: Sequence[dict[str, Any]],
    status: Status = "open",
    actions: Iterable[str] = (),
    notify: Iterable[str] = (),
    rule_id: str = "",
    rule_version: int = 0,
    frame_seq: int = 0,
    pts_ms: float = 0.0,
    result_id: int | None = None,
    evidence_key: str | None = None,
    actor: str = SYSTEM,
    note: str | None = None,
    at: datetime | None = None,
) -> Alert:
    """Record an alert with its "created" history entry; labels include the taxonomy ancestors."""
    if status not in STATUSES:
        raise InputError("status", f"{status!r} is not one of {', '.join(STATUSES)}")
    now = at or utcnow()
    peak = peak_violation(violations)
    names = _label_names(str(v["label"]) for v in violations)
    alert = Alert(
        channel=channel,
        status=status,
        severity=max(1, min(MAX_SEVERITY, severity)),
        top_label=str(peak["label"]) if peak else None,
        peak_confidence=float(peak.get("confidence", 0.0)) if peak else 0.0,
        labels=names,
        violations=[dict(v) for v in violations],
        actions=sorted(set(actions)),
        notify=list(notify),
        rule_id=rule_id,
        rule_version=rule_version,
        frame_seq=frame_seq,
        pts_ms=float(pts_ms),
        result_id=result_id,
        evidence_key=evidence_key,
        created_at=now,
        updated_at=now,
        occurrences=1,
        last_seen_at=now,
    )
    session.add(alert)
    session.flush()
    session.add_all(AlertLabel(alert_id=alert.id, label=name) for name in names)
    add_event(session, alert_id=alert.id, actor=actor, action="created", to_status="open", note=note, at=now)
    return alert


def peak_violation(violations: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The violation with the highest confidence: its label is the alert's ``top_label``.

    Shared by :func:`create_alert` and the grouping lookup, so a repeat is matched
    on exactly the label its alert was filed under.
    """
    return max(violations, key=lambda v: float(v.get("confidence", 0.0)), default=None)


def lock_channel_alerts(session: Session, *, channel: str) -> None:
    """Serialize "find an alert to group into, else create one" per channel until commit.

    Without it two PostgreSQL transactions could both find nothing and both
    open an alert (a row lock cannot lock a row that does not exist yet).  A
    transaction-scoped advisory lock on a hash of the channel name closes that
    gap.  SQLite needs nothing: every writing transaction starts with
    ``BEGIN IMMEDIATE`` and so already holds the database's write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"framewarden.alerts:{channel}".encode(), digest_size=8).digest()
    session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))


def find_groupable_alert(session: Session, *, channel: str, top_label: str, since: datetime) -> Alert | None:
    """The open alert of exactly ``channel`` and ``top_label`` last seen at or after ``since``.

    Old rows have no ``last_seen_at``; their ``created_at`` stands in.  Only
    "open" alerts qualify: once a moderator (or an auto-stop) has handled an
    alert, new frames are a new incident.  The row is locked (FOR UPDATE on
    PostgreSQL) so a moderator's transition cannot slip between this lookup
    and :func:`record_occurrence`; call :func:`lock_channel_alerts` first when
    the caller creates an alert if none is found.
    """
    seen = func.coalesce(Alert.last_seen_at, Alert.created_at)
    stmt = (
        select(Alert)
        .where(
            Alert.channel == channel,
            Alert.status == "open",
            Alert.top_label == top_label,
            seen >= since,
        )
        .order_by(seen.desc(), Alert.id.desc())
        .limit(1)
        .with_for_update()
    )
    return session.scalars(stmt).first()


def record_occurrence(
    session: Session,
    *,
    alert: Alert,
    severity: int,
    violations: Sequence[Mapping[str, Any]],
    actions: Iterable[str] = (),
    at: datetime | None = None,
) -> bool:
    """Fold one more flagged frame into the open ``alert``; False if it is no longer open.

    ``occurrences``, ``peak_confidence`` and ``severity`` are computed in the
    UPDATE itself (never from a copy read earlier), so concurrent repeats each
    count.  Violations merge by label (the highest confidence of each is kept,
    new labels appended) and new label names, ancestors included, gain their ``alert_labels`` rows
    so label filters find the alert.  The JSON columns are read-modify-write:
    they rely on the row lock :func:`find_groupable_alert` took.  No history
    entry is added; the evidence and frame reference stay those of the first
    frame, which is what the notification pointed at.
    """
    now = at or utcnow()
    peak = peak_violation(violations)
    confidence = float(peak.get("confidence", 0.0)) if peak else 0.0
    severity = max(1, min(MAX_SEVERITY, severity))
    merged: dict[str, dict[str, Any]] = {str(v["label"]): dict(v) for v in alert.violations}
    for v in violations:
        label = str(v["label"])
        old = merged.get(label)
        if old is None or float(v.get("confidence", 0.0)) > float(old.get("confidence", 0.0)):
            merged[label] = dict(v)
    names = sorted(set(alert.labels) | set(_label_names(merged)))
    new_names = sorted(set(names) - set(alert.labels))
    at_now = literal(now, Alert.last_seen_at.type)  # UTCDateTime: stored like every timestamp
    won = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == "open")
        .values(
            occurrences=Alert.occurrences + 1,
            # The latest of the two: concurrent callers may commit slightly out of clock order.
            last_seen_at=case(
                (Alert.last_seen_at.is_(None) | (Alert.last_seen_at < at_now), at_now),
                else_=Alert.last_seen_at,
            ),
            updated_at=now,
            peak_confidence=case(
                (Alert.peak_confidence < confidence, confidence), else_=Alert.peak_confidence
            ),
            severity=case((Alert.severity < severity, severity), else_=Alert.severity),
            violations=list(merged.values()),  # the first frame's order, new labels after
            labels=names,
            actions=sorted(set(alert.actions) | set(actions)),
        )
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    ).all()
    if not won:
        return False
    if new_names:
        session.execute(insert(AlertLabel), [{"alert_id": alert.id, "label": n} for n in new_names])
    session.expire(alert)
    return True


def _label_names(labels: Iterable[str]) -> list[str]:
    names: set[str] = set()
    for label in labels:
        names.add(label)
        if taxonomy.is_label(label):
            names.update(taxonomy.ancestors(label))
    return sorted(names)


def add_event(
    session: Session,
    *,
    alert_id: int,
    actor: str,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> AlertEvent:
    event = AlertEvent(
        alert_id=alert_id,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        at=at or utcnow(),
    )
    session.add(event)
    session.flush()
    return event


def get_alert(session: Session, *, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def require_alert(session: Session, *, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError("alert", alert_id)
    return alert


def alert_history(session: Session, *, alert_id: int) -> Sequence[AlertEvent]:
    """The alert's events, oldest first."""
    stmt = select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.at, AlertEvent.id)
    return session.scalars(stmt).all()


def transition_alert(
    session: Session,
    *,
    alert_id: int,
    to: Status,
    actor: str,
    note: str | None = None,
    at: datetime | None = None,
    action: str | None = None,
) -> Alert:
    """Move one alert to ``to``; an illegal move raises ``ConflictError`` naming both states.

    ``action`` names the history entry (default: the new status; "auto_stop" for the system's stop).
    """
    if not actor:
        raise InputError("actor", "a status change needs the identity of who made it")
    now = at or utcnow()
    allowed = sources_of(to)
    # Row lock on PostgreSQL (SQLite already holds the write lock: BEGIN IMMEDIATE).
    before = session.scalar(select(Alert.status).where(Alert.id == alert_id).with_for_update())
    if before is None:
        raise NotFoundError("alert", alert_id)
    changed = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status.in_(allowed))
        .values(**_ack_values(to, actor, note, now))
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    ).all()
    if not changed:
        current = session.scalar(select(Alert.status).where(Alert.id == alert_id))
        raise ConflictError("alert", alert_id, f"cannot go from {current} to {to}")
    add_event(
        session,
        alert_id=alert_id,
        actor=actor,
        action=action or to,
        from_status=before,
        to_status=to,
        note=note,
        at=now,
    )
    session.expire_all()
    return require_alert(session, alert_id=alert_id)


def transition_channel(
    session: Session,
    *,
    channel: str,
    to: Status,
    actor: str,
    note: str | None = None,
    at: datetime | None = None,
) -> list[int]:
    """Move every *open* alert of exactly ``channel`` to ``to``; returns their ids (ascending)."""
    if not actor:
        raise InputError("actor", "a status change needs the identity of who made it")
    if "open" not in sources_of(to):
        raise ConflictError("channel alerts", channel, f"open alerts cannot go to {to}")
    now = at or utcnow()
    rows = session.execute(
        update(Alert)
        .where(Alert.channel == channel, Alert.status == "open")
        .values(**_ack_values(to, actor, note, now))
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    ).all()
    ids = sorted(int(row[0]) for row in rows)
    for alert_id in ids:
        add_event(
            session,
            alert_id=alert_id,
            actor=actor,
            action=to,
            from_status="open",
            to_status=to,
            note=note,
            at=now,
        )
    session.expire_all()
    return ids


def _ack_values(to: str, actor: str, note: str | None, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"status": to, "updated_at": now}
    if actor != SYSTEM:
        values |= {"acknowledged_by": actor, "acknowledged_at": now}
    if note is not None:
        values["note"] = note
    return values


def escalate_alert(session: Session, *, alert: Alert, at: datetime | None = None) -> bool:
    """Raise one open alert's severity by a level; False if it changed meanwhile (someone else won)."""
    now = at or utcnow()
    won = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == "open", Alert.escalation_level == alert.escalation_level)
        .values(
            severity=min(MAX_SEVERITY, alert.severity + 1),
            escalation_level=alert.escalation_level + 1,
            escalated_at=now,
            updated_at=now,
        )
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    ).all()
    if not won:
        return False
    add_event(
        session,
        alert_id=alert.id,
        actor=SYSTEM,
        action="escalated",
        from_status="open",
        to_status="open",
        note=f"level {alert.escalation_level + 1}",
        at=now,
    )
    session.expire(alert)
    return True


def alerts_due_for_escalation(session: Session, *, older_than: datetime, limit: int = 500) -> Sequence[Alert]:
    """Open alerts created (or last escalated) at or before ``older_than``, oldest first."""
    since = func.coalesce(Alert.escalated_at, Alert.created_at)
    stmt = (
        select(Alert)
        .where(Alert.status == "open", since <= older_than)
        .order_by(since, Alert.id)
        .limit(limit)
    )
    return session.scalars(stmt).all()


def list_alerts(
    session: Session,
    *,
    channel: str | None = None,
    status: Status | Sequence[Status] | None = None,
    label: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_severity: int | None = None,
    newest_first: bool = True,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[Alert]:
    """Alerts by channel (exact name), status, label (any level) and ``since <= created_at < until``."""
    stmt = select(Alert)
    if channel is not None:
        stmt = stmt.where(Alert.channel == channel)
    if status is not None:
        statuses = (status,) if isinstance(status, str) else tuple(status)
        for s in statuses:
            sources_of(s)  # validates the name
        stmt = stmt.where(Alert.status.in_(statuses))
    if label is not None:
        stmt = stmt.where(Alert.id.in_(select(AlertLabel.alert_id).where(AlertLabel.label == label)))
    if since is not None:
        stmt = stmt.where(Alert.created_at >= since)
    if until is not None:
        stmt = stmt.where(Alert.created_at < until)
    if min_severity is not None:
        stmt = stmt.where(Alert.severity >= min_severity)
    return paginate(
        session,
        stmt,
        sort=Alert.created_at,
        key=Alert.id,
        cursor=cursor,
        limit=limit,
        descending=newest_first,
    )


def count_alerts(session: Session, *, channel: str | None = None, status: Status | None = None) -> int:
    stmt = select(func.count()).select_from(Alert)
    if channel is not None:
        stmt = stmt.where(Alert.channel == channel)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    return int(session.scalar(stmt) or 0)
