"""The alert service on SQLite and PostgreSQL: verdicts in, reviewed and escalated alerts out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from framewarden.actions.alerts import AlertService
from framewarden.events import Event, EventBus
from framewarden.rules.verdict import Action, Verdict, Violation
from framewarden.store import alerts as repo
from framewarden.store.db import Database
from framewarden.store.errors import ConflictError, NotFoundError

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def verdict(channel: str = "live-1", action: Action = Action.ALERT, *, flagged: bool = True) -> Verdict:
    violations = (
        (Violation("Exposed Female Nipple", 93.0, "adult", 80.0, "Explicit", action),) if flagged else ()
    )
    return Verdict(
        channel=channel,
        rule_id="adult",
        rule_version=4,
        frame_seq=17,
        pts_ms=5400.0,
        violations=violations,
        actions=frozenset({action}) if flagged else frozenset(),
        notify=("ops-hook",),
    )


@pytest.fixture
def setup(db: Database) -> tuple[AlertService, list[Event], Clock]:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    clock = Clock()
    # One alert per verdict: these tests are about the lifecycle (grouping: test_alert_grouping.py).
    return AlertService(db, bus, escalation_s=300, group_s=0, clock=clock), events, clock


def test_a_clean_verdict_makes_no_alert(setup: tuple[AlertService, list[Event], Clock], db: Database) -> None:
    service, events, _ = setup
    assert service.record(verdict(flagged=False)) is None
    assert events == []
    with db.read() as s:
        assert repo.count_alerts(s) == 0


@pytest.mark.parametrize(
    ("action", "stopped", "status", "severity", "history"),
    [
        (Action.ALERT, None, "open", 1, [("system", "created")]),
        (Action.REVIEW, None, "open", 2, [("system", "created")]),
        (Action.AUTO_STOP, None, "stream_stopped", 3, [("system", "created"), ("system", "auto_stop")]),
        (Action.AUTO_STOP, False, "open", 3, [("system", "created"), ("system", "auto_stop_failed")]),
    ],
)
def test_every_flagged_verdict_becomes_an_alert(
    setup: tuple[AlertService, list[Event], Clock],
    db: Database,
    action: Action,
    stopped: bool | None,
    status: str,
    severity: int,
    history: list[tuple[str, str]],
) -> None:
    service, events, _ = setup
    alert = service.record(
        verdict(action=action), result_id=None, evidence_key="flagged/x.jpg", stopped=stopped
    )
    assert alert is not None
    with db.read() as s:
        stored = repo.require_alert(s, alert_id=alert.id)
        got_history = [(e.actor, e.action) for e in repo.alert_history(s, alert_id=alert.id)]
    assert (stored.status, stored.severity, stored.rule_id, stored.rule_version) == (
        status,
        severity,
        "adult",
        4,
    )
    assert (stored.frame_seq, stored.pts_ms, stored.evidence_key, stored.notify) == (
        17,
        5400.0,
        "flagged/x.jpg",
        ["ops-hook"],
    )
    assert stored.violations[0]["label"] == "Exposed Female Nipple" and stored.acknowledged_by is None
    assert got_history == history
    assert [(e.kind, e.channel, e.payload["id"], e.payload["status"]) for e in events] == [
        ("alert", "live-1", alert.id, status)
    ]


def test_auto_stop_entry_says_system(setup: tuple[AlertService, list[Event], Clock], db: Database) -> None:
    service, _, _ = setup
    alert = service.record(verdict(action=Action.AUTO_STOP))
    assert alert is not None
    with db.read() as s:
        last = repo.alert_history(s, alert_id=alert.id)[-1]
    assert last.to_status == "stream_stopped" and last.note is not None and "auto_stop by system" in last.note


def test_moderator_review_lifecycle(setup: tuple[AlertService, list[Event], Clock], db: Database) -> None:
    service, events, clock = setup
    first = service.record(verdict())
    second = service.record(verdict())
    stopped = service.record(verdict(action=Action.AUTO_STOP))
    assert first and second and stopped
    clock.now = T0 + timedelta(minutes=2)
    confirmed = service.confirm(first.id, by="alice", note="clear violation")
    dismissed = service.dismiss(second.id, by="bob")
    reviewed = service.dismiss(stopped.id, by="carol", note="false positive, restart")
    assert (confirmed.status, confirmed.acknowledged_by, confirmed.acknowledged_at, confirmed.note) == (
        "confirmed",
        "alice",
        clock.now,
        "clear violation",
    )
    assert (dismissed.status, dismissed.acknowledged_by) == ("dismissed", "bob")
    assert (reviewed.status, reviewed.acknowledged_by) == ("dismissed", "carol")
    with pytest.raises(ConflictError, match=f"alert {first.id}: cannot go from confirmed to dismissed"):
        service.dismiss(first.id, by="mallory")
    with pytest.raises(NotFoundError):
        service.confirm(123_456, by="alice")
    service.add_note(first.id, by="dave", note="reported to the platform")
    with db.read() as s:
        history = [(e.actor, e.action, e.note) for e in repo.alert_history(s, alert_id=first.id)]
    assert history == [
        ("system", "created", None),
        ("alice", "confirmed", "clear violation"),
        ("dave", "note", "reported to the platform"),
    ]
    assert [e.kind for e in events] == ["alert"] * 3 + ["alert_updated"] * 3


def test_stop_stream_by_a_moderator(setup: tuple[AlertService, list[Event], Clock]) -> None:
    service, _, _ = setup
    alert = service.record(verdict(action=Action.REVIEW))
    assert alert is not None
    assert service.stop_stream(alert.id, by="alice").status == "stream_stopped"


def test_acknowledge_channel_never_touches_a_prefix_sibling(
    setup: tuple[AlertService, list[Event], Clock], db: Database
) -> None:
    service, events, _ = setup
    mine = [service.record(verdict("live-1")) for _ in range(3)]
    others = [service.record(verdict(name)) for name in ("live-10", "live-100", "live-", "Live-1")]
    events.clear()
    changed = service.acknowledge_channel("live-1", by="alice", to="dismissed", note="raid over")
    assert sorted(a.id for a in changed) == sorted(a.id for a in mine if a)
    assert {a.status for a in changed} == {"dismissed"}
    assert [(e.kind, e.channel) for e in events] == [("alert_updated", "live-1")] * 3
    with db.read() as s:
        for other in others:
            assert other is not None
            assert repo.require_alert(s, alert_id=other.id).status == "open"
    assert service.acknowledge_channel("live-1", by="alice") == []  # nothing open is left


def test_escalate_due_raises_severity_once_per_period(
    setup: tuple[AlertService, list[Event], Clock], db: Database
) -> None:
    service, events, clock = setup
    old = service.record(verdict("a"))
    clock.now = T0 + timedelta(seconds=200)
    young = service.record(verdict("b"))
    handled = service.record(verdict("c"))
    assert old and young and handled
    service.confirm(handled.id, by="alice")
    events.clear()

    assert service.escalate_due(T0 + timedelta(seconds=299)) == []
    first = service.escalate_due(T0 + timedelta(seconds=300))
    assert [(a.id, a.severity, a.escalation_level) for a in first] == [(old.id, 2, 1)]
    assert [(e.kind, e.payload["id"], e.payload["escalated"]) for e in events] == [
        ("alert_updated", old.id, True)
    ]
    assert service.escalate_due(T0 + timedelta(seconds=301)) == []  # not again within the period
    second = service.escalate_due(T0 + timedelta(seconds=600))
    assert sorted((a.id, a.escalation_level) for a in second) == [(old.id, 2), (young.id, 1)]
    with db.read() as s:
        assert repo.require_alert(s, alert_id=handled.id).escalation_level == 0
        actions = [e.action for e in repo.alert_history(s, alert_id=old.id)]
    assert actions == ["created", "escalated", "escalated"]


def test_escalation_off(db: Database) -> None:
    service = AlertService(db, EventBus(), escalation_s=0, clock=lambda: T0)
    service.record(verdict())
    assert service.escalate_due(T0 + timedelta(days=1)) == []


def test_escalation_period_comes_from_settings(monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    from framewarden.config import get_settings

    monkeypatch.setenv("FRAMEWARDEN_ALERT_ESCALATION_S", "60")
    get_settings.cache_clear()
    service = AlertService(db, clock=lambda: T0)
    service.record(verdict())
    assert len(service.escalate_due(T0 + timedelta(seconds=61))) == 1
