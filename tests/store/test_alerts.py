"""Alerts repository: filters, the status machine, history, escalation bookkeeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from framewarden.errors import InputError
from framewarden.store import alerts
from framewarden.store.db import Database
from framewarden.store.errors import ConflictError, NotFoundError

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NIPPLE = {"label": "Exposed Female Nipple", "confidence": 92.0}
WEAPONS = {"label": "Weapons", "confidence": 70.0}


def _make(
    db: Database,
    channel: str = "live-1",
    *,
    violations: list[dict[str, object]] | None = None,
    at: datetime = T0,
) -> int:
    with db.begin() as s:
        return alerts.create_alert(
            s, channel=channel, severity=1, violations=violations or [NIPPLE], at=at
        ).id


def test_create_keeps_labels_with_ancestors_and_a_created_entry(db: Database) -> None:
    alert_id = _make(db, violations=[NIPPLE, WEAPONS])
    with db.read() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
        history = alerts.alert_history(s, alert_id=alert_id)
    assert a.labels == ["Explicit", "Explicit Nudity", "Exposed Female Nipple", "Violence", "Weapons"]
    assert (a.top_label, a.peak_confidence, a.status, a.created_at) == (
        "Exposed Female Nipple",
        92.0,
        "open",
        T0,
    )
    assert [(e.actor, e.action, e.to_status) for e in history] == [("system", "created", "open")]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["confirmed"], True),
        (["dismissed"], True),
        (["stream_stopped"], True),
        (["stream_stopped", "dismissed"], True),
        (["stream_stopped", "confirmed"], True),
        (["confirmed", "dismissed"], False),
        (["dismissed", "confirmed"], False),
        (["confirmed", "stream_stopped"], False),
        (["dismissed", "open"], False),
        (["confirmed", "confirmed"], False),
    ],
)
def test_status_machine(db: Database, path: list[str], allowed: bool) -> None:
    alert_id = _make(db)
    *first, last = path
    for step in first:
        with db.begin() as s:
            alerts.transition_alert(s, alert_id=alert_id, to=step, actor="mod", at=T0)  # type: ignore[arg-type]
    if allowed:
        with db.begin() as s:
            assert alerts.transition_alert(s, alert_id=alert_id, to=last, actor="mod").status == last  # type: ignore[arg-type]
    else:
        with (
            pytest.raises(ConflictError, match=f"alert {alert_id}: cannot go from {first[-1]} to {last}"),
            db.begin() as s,
        ):
            alerts.transition_alert(s, alert_id=alert_id, to=last, actor="mod")  # type: ignore[arg-type]
        with db.read() as s:
            assert alerts.require_alert(s, alert_id=alert_id).status == first[-1]


def test_transition_records_who_when_and_why(db: Database) -> None:
    alert_id = _make(db)
    at = T0 + timedelta(minutes=3)
    with db.begin() as s:
        alerts.transition_alert(s, alert_id=alert_id, to="dismissed", actor="alice", note="a statue", at=at)
    with db.read() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
        last = alerts.alert_history(s, alert_id=alert_id)[-1]
    assert (a.acknowledged_by, a.acknowledged_at, a.note) == ("alice", at, "a statue")
    assert (last.actor, last.action, last.from_status, last.to_status, last.note, last.at) == (
        "alice",
        "dismissed",
        "open",
        "dismissed",
        "a statue",
        at,
    )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"alert_id": 999_999, "to": "confirmed", "actor": "m"}, NotFoundError),
        ({"to": "open", "actor": "m"}, ConflictError),  # nothing goes back to open
        ({"to": "resolved", "actor": "m"}, InputError),
        ({"to": "confirmed", "actor": ""}, InputError),
    ],
)
def test_bad_transitions(db: Database, kwargs: dict[str, object], error: type[Exception]) -> None:
    alert_id = _make(db)
    with pytest.raises(error), db.begin() as s:
        alerts.transition_alert(s, **({"alert_id": alert_id} | kwargs))  # type: ignore[arg-type]


def test_racing_moderators_only_one_wins(db: Database) -> None:
    alert_id = _make(db)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def moderate(to: str) -> None:
        barrier.wait()
        try:
            with db.begin() as s:
                alerts.transition_alert(s, alert_id=alert_id, to=to, actor=f"mod-{to}")  # type: ignore[arg-type]
            outcomes.append("won")
        except ConflictError:
            outcomes.append("lost")

    threads = [threading.Thread(target=moderate, args=(to,)) for to in ("confirmed", "dismissed") * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    with db.read() as s:
        assert len(alerts.alert_history(s, alert_id=alert_id)) == 2


def test_channel_transition_touches_only_that_channels_open_alerts(db: Database) -> None:
    ids = {name: [_make(db, name), _make(db, name)] for name in ("live-1", "live-10", "live-1x", "xlive-1")}
    with db.begin() as s:
        alerts.transition_alert(s, alert_id=ids["live-1"][1], to="dismissed", actor="a")
    with db.begin() as s:
        changed = alerts.transition_channel(s, channel="live-1", to="confirmed", actor="bob")
    assert changed == [ids["live-1"][0]]
    with db.read() as s:
        for name in ("live-10", "live-1x", "xlive-1"):
            assert alerts.count_alerts(s, channel=name, status="open") == 2
        assert alerts.require_alert(s, alert_id=ids["live-1"][1]).status == "dismissed"


def test_list_filters(db: Database) -> None:
    a = _make(db, "live-1", violations=[NIPPLE], at=T0)
    b = _make(db, "live-1", violations=[WEAPONS], at=T0 + timedelta(hours=1))
    c = _make(db, "live-10", violations=[WEAPONS], at=T0 + timedelta(hours=2))
    with db.begin() as s:
        alerts.transition_alert(s, alert_id=b, to="confirmed", actor="m")
    cases = [
        ({}, [c, b, a]),
        ({"channel": "live-1"}, [b, a]),
        ({"status": "open"}, [c, a]),
        ({"status": ["open", "confirmed"], "channel": "live-10"}, [c]),
        ({"label": "Violence"}, [c, b]),  # a level-1 name finds its descendants
        ({"label": "Exposed Female Nipple"}, [a]),
        ({"since": T0 + timedelta(minutes=30), "until": T0 + timedelta(hours=2)}, [b]),
        ({"newest_first": False}, [a, b, c]),
    ]
    with db.read() as s:
        for kwargs, expected in cases:
            assert [x.id for x in alerts.list_alerts(s, **kwargs).items] == expected, kwargs  # type: ignore[arg-type]


def test_escalation_is_counted_once_per_level(db: Database) -> None:
    alert_id = _make(db)
    with db.begin() as s:
        due = alerts.alerts_due_for_escalation(s, older_than=T0)
        assert [a.id for a in due] == [alert_id]
        stale = due[0]
        assert alerts.escalate_alert(s, alert=stale, at=T0 + timedelta(minutes=5))
    with db.begin() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
        assert (a.severity, a.escalation_level, a.escalated_at) == (2, 1, T0 + timedelta(minutes=5))
        assert alerts.alerts_due_for_escalation(s, older_than=T0 + timedelta(minutes=4)) == []
        a.escalation_level = 0  # a competitor holding an old copy loses
        s.expunge(a)
        assert not alerts.escalate_alert(s, alert=a)
