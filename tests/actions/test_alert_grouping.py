"""Alert grouping in the service, on SQLite and PostgreSQL: one incident, one alert."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from framewarden.actions.alerts import AlertService, RecordedAlert
from framewarden.config import Settings
from framewarden.events import Event, EventBus
from framewarden.rules.verdict import Action, Verdict, Violation
from framewarden.store import alerts as repo
from framewarden.store.db import Database

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NIPPLE = "Exposed Female Nipple"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def verdict(
    channel: str = "live-1",
    *labels: tuple[str, float],
    action: Action = Action.ALERT,
    seq: int = 0,
) -> Verdict:
    found = labels or ((NIPPLE, 90.0),)
    return Verdict(
        channel=channel,
        rule_id="adult",
        rule_version=1,
        frame_seq=seq,
        pts_ms=seq * 1000.0,
        violations=tuple(Violation(name, conf, "adult", 60.0, name, action) for name, conf in found),
        actions=frozenset({action}),
        notify=("ops",),
    )


Setup = tuple[AlertService, list[Event], Clock]


@pytest.fixture
def setup(db: Database) -> Setup:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    clock = Clock()
    return AlertService(db, bus, escalation_s=0, group_s=60, clock=clock), events, clock


def record(service: AlertService, v: Verdict, stopped: bool | None = None) -> RecordedAlert:
    recorded = service.record_verdict(v, stopped=stopped)
    assert recorded is not None
    return recorded


def test_repeats_within_the_window_fold_into_one_alert(setup: Setup, db: Database) -> None:
    service, events, clock = setup
    outcomes = []
    for seq, conf in enumerate((90.0, 96.0, 80.0)):
        outcomes.append(record(service, verdict("live-1", (NIPPLE, conf), seq=seq)))
        clock.advance(20)
    assert [o.repeat for o in outcomes] == [False, True, True]
    assert outcomes[0].is_new and not outcomes[1].is_new
    assert len({o.alert.id for o in outcomes}) == 1
    last = outcomes[-1].alert
    assert (last.occurrences, last.created_at, last.last_seen_at, last.peak_confidence) == (
        3,
        T0,
        T0 + timedelta(seconds=40),
        96.0,
    )
    assert (last.frame_seq, last.status) == (0, "open")  # the first frame stays the evidence
    assert [(e.kind, e.payload["occurrences"], e.payload.get("repeat")) for e in events] == [
        ("alert", 1, None),
        ("alert_updated", 2, True),
        ("alert_updated", 3, True),
    ]
    assert events[-1].payload["last_seen_at"] == (T0 + timedelta(seconds=40)).isoformat()
    with db.read() as s:
        assert repo.count_alerts(s) == 1
        assert [e.action for e in repo.alert_history(s, alert_id=last.id)] == ["created"]


def test_the_window_slides_from_the_last_frame_and_a_gap_opens_a_new_alert(setup: Setup) -> None:
    service, _, clock = setup
    first = record(service, verdict())
    for _ in range(3):  # 150 s after creation, but never 60 s after the last frame
        clock.advance(50)
        assert record(service, verdict()).alert.id == first.alert.id
    clock.advance(60)  # exactly the window: still the same incident
    assert record(service, verdict()).alert.id == first.alert.id
    clock.advance(60.001)
    after_gap = record(service, verdict())
    assert after_gap.is_new and after_gap.alert.id != first.alert.id
    assert after_gap.alert.occurrences == 1


def test_different_labels_or_channels_never_group(setup: Setup, db: Database) -> None:
    service, _, _ = setup
    base = record(service, verdict("live-1", (NIPPLE, 90.0)))
    others = [
        record(service, verdict("live-1", ("Weapons", 90.0))),
        record(service, verdict("live-10", (NIPPLE, 90.0))),
        record(service, verdict("Live-1", (NIPPLE, 90.0))),
        # The same label, but no longer the top one: a different incident.
        record(service, verdict("live-1", ("Weapons", 95.0), (NIPPLE, 90.0))),
    ]
    assert [o.repeat for o in others] == [False, False, False, True]  # the last joins "Weapons"
    assert others[3].alert.id == others[0].alert.id
    with db.read() as s:
        assert repo.count_alerts(s) == 4
        assert repo.require_alert(s, alert_id=base.alert.id).occurrences == 1
        weapons = repo.require_alert(s, alert_id=others[0].alert.id)
    assert (weapons.occurrences, weapons.peak_confidence) == (2, 95.0)
    assert NIPPLE in weapons.labels and "Explicit" in weapons.labels


@pytest.mark.parametrize("to", ["confirmed", "dismissed", "stream_stopped"])
def test_a_reviewed_alert_never_absorbs_new_frames(setup: Setup, db: Database, to: repo.Status) -> None:
    service, events, clock = setup
    first = record(service, verdict())
    service.transition(first.alert.id, to, by="alice")
    clock.advance(1)
    again = record(service, verdict())
    assert again.is_new and again.alert.id != first.alert.id
    assert events[-1].kind == "alert"
    with db.read() as s:
        reviewed = repo.require_alert(s, alert_id=first.alert.id)
    assert (reviewed.status, reviewed.occurrences) == (to, 1)


def test_auto_stops_never_group_and_keep_their_audit_entry(setup: Setup, db: Database) -> None:
    service, events, _ = setup
    open_alert = record(service, verdict())
    stops = [record(service, verdict(action=Action.AUTO_STOP)) for _ in range(2)]
    failed = record(service, verdict(action=Action.AUTO_STOP), stopped=False)
    assert not any(o.repeat for o in [*stops, failed])
    assert len({open_alert.alert.id, *(o.alert.id for o in [*stops, failed])}) == 4
    assert [e.kind for e in events] == ["alert"] * 4
    with db.read() as s:
        assert repo.require_alert(s, alert_id=open_alert.alert.id).occurrences == 1
        histories = [[e.action for e in repo.alert_history(s, alert_id=o.alert.id)] for o in stops]
        failed_history = [e.action for e in repo.alert_history(s, alert_id=failed.alert.id)]
    assert histories == [["created", "auto_stop"]] * 2
    assert failed_history == ["created", "auto_stop_failed"]


def test_a_repeat_raises_severity_and_adds_actions_never_lowers(setup: Setup) -> None:
    service, _, _ = setup
    record(service, verdict())
    review = record(service, verdict(action=Action.REVIEW))
    calmer = record(service, verdict(action=Action.ALERT))
    assert review.repeat and calmer.repeat
    assert (calmer.alert.severity, calmer.alert.actions, calmer.alert.occurrences) == (
        2,
        ["alert", "review"],
        3,
    )


def test_group_s_zero_never_groups(db: Database) -> None:
    service = AlertService(db, EventBus(), escalation_s=0, group_s=0, clock=lambda: T0)
    ids = {record(service, verdict()).alert.id for _ in range(3)}
    assert len(ids) == 3


def test_the_window_comes_from_settings(monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    from framewarden.config import get_settings

    assert Settings().alert_group_s == 60.0
    with pytest.raises(ValidationError):
        Settings(alert_group_s=-1)
    grouping = AlertService(db, clock=lambda: T0)
    assert record(grouping, verdict("a")).is_new and record(grouping, verdict("a")).repeat
    monkeypatch.setenv("FRAMEWARDEN_ALERT_GROUP_S", "0")
    get_settings.cache_clear()
    never = AlertService(db, clock=lambda: T0)
    assert record(never, verdict("b")).is_new and record(never, verdict("b")).is_new


def test_concurrent_repeats_make_one_alert_and_count_every_frame(db: Database) -> None:
    """Threads racing from an empty store: one alert (not one per thread), every frame counted."""
    bus = EventBus()
    events: list[Event] = []
    lock = threading.Lock()

    def keep(event: Event) -> None:
        with lock:
            events.append(event)

    bus.subscribe(keep)
    service = AlertService(db, bus, escalation_s=0, group_s=60)  # the real clock
    threads_n, per_thread = 8, 10
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        barrier.wait()
        try:
            for i in range(per_thread):
                service.record_verdict(verdict("race", seq=n * per_thread + i))
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as s:
        (alert,) = repo.list_alerts(s, channel="race").items
    assert alert.occurrences == threads_n * per_thread
    kinds = [e.kind for e in events]
    assert kinds.count("alert") == 1 and kinds.count("alert_updated") == threads_n * per_thread - 1
    assert sorted(e.payload["occurrences"] for e in events) == list(range(1, threads_n * per_thread + 1))
