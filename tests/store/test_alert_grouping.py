"""Alert grouping in the repository and migration 0002, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect

from framewarden.store import alerts, migrations
from framewarden.store.db import Database, connect, make_engine
from framewarden.store.models import UTCDateTime

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NIPPLE_LABEL = "Exposed Female Nipple"
NIPPLE = {"label": NIPPLE_LABEL, "confidence": 92.0}
WEAPONS = {"label": "Weapons", "confidence": 70.0}


def _make(db: Database, channel: str = "live-1", *, at: datetime = T0) -> int:
    with db.begin() as s:
        return alerts.create_alert(s, channel=channel, severity=1, violations=[NIPPLE], at=at).id


def _find(db: Database, since: datetime, channel: str = "live-1", label: str = NIPPLE_LABEL) -> int | None:
    with db.begin() as s:
        found = alerts.find_groupable_alert(s, channel=channel, top_label=label, since=since)
        return found.id if found else None


def test_a_new_alert_counts_one_occurrence_seen_when_created(db: Database) -> None:
    alert_id = _make(db)
    with db.read() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
    assert (a.occurrences, a.last_seen_at) == (1, T0)


def test_find_matches_channel_label_status_and_window_exactly(db: Database) -> None:
    alert_id = _make(db)
    assert _find(db, T0) == alert_id  # the window's edge is inside it
    assert _find(db, T0 + timedelta(microseconds=1)) is None
    assert _find(db, T0, channel="live-10") is None
    assert _find(db, T0, channel="Live-1") is None
    assert _find(db, T0, label="Weapons") is None
    assert _find(db, T0, label="Explicit") is None  # an ancestor is not the top label
    with db.begin() as s:
        alerts.transition_alert(s, alert_id=alert_id, to="dismissed", actor="mod")
    assert _find(db, T0) is None


def test_find_picks_the_most_recently_seen_open_alert(db: Database) -> None:
    _make(db, at=T0)
    newer = _make(db, at=T0 + timedelta(seconds=5))
    assert _find(db, T0) == newer


def test_record_occurrence_counts_and_merges_without_a_history_entry(db: Database) -> None:
    alert_id = _make(db)
    later = T0 + timedelta(seconds=30)
    with db.begin() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
        stronger = {"label": "Exposed Female Nipple", "confidence": 97.0}
        assert alerts.record_occurrence(
            s, alert=a, severity=2, violations=[stronger, WEAPONS], actions=["review"], at=later
        )
    with db.begin() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
        # A weaker, milder repeat lowers nothing.
        assert alerts.record_occurrence(s, alert=a, severity=1, violations=[NIPPLE], at=later)
    with db.read() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
        history = alerts.alert_history(s, alert_id=alert_id)
        by_weapons = alerts.list_alerts(s, label="Weapons").items
        by_violence = alerts.list_alerts(s, label="Violence").items
    assert (a.occurrences, a.created_at, a.last_seen_at, a.updated_at) == (3, T0, later, later)
    assert (a.top_label, a.peak_confidence, a.severity, a.actions) == (
        "Exposed Female Nipple",
        97.0,
        2,
        ["review"],
    )
    assert [(v["label"], v["confidence"]) for v in a.violations] == [
        ("Exposed Female Nipple", 97.0),
        ("Weapons", 70.0),
    ]
    assert a.labels == ["Explicit", "Explicit Nudity", "Exposed Female Nipple", "Violence", "Weapons"]
    assert [x.id for x in by_weapons] == [alert_id] and [x.id for x in by_violence] == [alert_id]
    assert [e.action for e in history] == ["created"]


def test_last_seen_never_moves_back(db: Database) -> None:
    alert_id = _make(db, at=T0 + timedelta(seconds=10))
    with db.begin() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
        assert alerts.record_occurrence(s, alert=a, severity=1, violations=[NIPPLE], at=T0)
    with db.read() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
    assert (a.occurrences, a.last_seen_at) == (2, T0 + timedelta(seconds=10))


def test_a_reviewed_alert_takes_no_occurrence(db: Database) -> None:
    alert_id = _make(db)
    with db.begin() as s:
        alerts.transition_alert(s, alert_id=alert_id, to="confirmed", actor="mod")
    with db.begin() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
        assert not alerts.record_occurrence(s, alert=a, severity=3, violations=[WEAPONS])
    with db.read() as s:
        a = alerts.require_alert(s, alert_id=alert_id)
        assert (a.occurrences, a.severity, a.status) == (1, 1, "confirmed")
        assert alerts.list_alerts(s, label="Weapons").items == []


def test_concurrent_occurrences_on_one_alert_all_count(db: Database) -> None:
    """Without the service's channel lock, the row lock and the SQL increment alone keep the count."""
    alert_id = _make(db)
    threads_n, per_thread = 8, 10
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                with db.begin() as s:
                    found = alerts.find_groupable_alert(s, channel="live-1", top_label=NIPPLE_LABEL, since=T0)
                    assert found is not None
                    assert alerts.record_occurrence(s, alert=found, severity=1, violations=[NIPPLE])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as s:
        assert alerts.require_alert(s, alert_id=alert_id).occurrences == 1 + threads_n * per_thread


# --- migration 0002 ----------------------------------------------------------------------------
LEGACY_ALERTS = sa.table(
    "alerts",
    sa.column("channel", sa.String()),
    sa.column("status", sa.String()),
    sa.column("severity", sa.Integer()),
    sa.column("top_label", sa.String()),
    sa.column("peak_confidence", sa.Float()),
    sa.column("labels", sa.JSON()),
    sa.column("violations", sa.JSON()),
    sa.column("actions", sa.JSON()),
    sa.column("notify", sa.JSON()),
    sa.column("rule_id", sa.String()),
    sa.column("rule_version", sa.Integer()),
    sa.column("frame_seq", sa.BigInteger()),
    sa.column("pts_ms", sa.Float()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("escalation_level", sa.Integer()),
)


def _alert_columns(url: str) -> tuple[set[str], set[str]]:
    engine = make_engine(url)
    try:
        found = inspect(engine)
        return (
            {c["name"] for c in found.get_columns("alerts")},
            {str(i["name"]) for i in found.get_indexes("alerts")},
        )
    finally:
        engine.dispose()


def _downgrade(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config = migrations.alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def test_upgrade_from_0001_keeps_alerts_as_one_occurrence_and_downgrades(db_url: str) -> None:
    migrations.upgrade(db_url, "0001")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(LEGACY_ALERTS).values(
                    channel="live-1",
                    status="open",
                    severity=1,
                    top_label="Weapons",
                    peak_confidence=70.0,
                    labels=["Violence", "Weapons"],
                    violations=[WEAPONS],
                    actions=["alert"],
                    notify=[],
                    rule_id="r",
                    rule_version=1,
                    frame_seq=3,
                    pts_ms=0.0,
                    created_at=T0,
                    updated_at=T0,
                    escalation_level=0,
                )
            )
    finally:
        engine.dispose()

    migrations.upgrade(db_url, "0002")  # this migration, whatever comes after it
    assert migrations.current(db_url) == "0002"
    columns, indexes = _alert_columns(db_url)
    assert {"occurrences", "last_seen_at"} <= columns
    assert "ix_alerts_channel_status_top_label" in indexes
    db = connect(db_url, migrate=False)
    try:
        with db.begin() as s:
            (old,) = alerts.list_alerts(s).items
            old_id = old.id
            assert (old.occurrences, old.last_seen_at) == (1, None)
            # A legacy row was last seen when it was created.
            found = alerts.find_groupable_alert(s, channel="live-1", top_label="Weapons", since=T0)
            assert found is not None and found.id == old_id
            assert alerts.record_occurrence(s, alert=found, severity=1, violations=[WEAPONS], at=T0)
        with db.read() as s:
            assert alerts.require_alert(s, alert_id=old_id).occurrences == 2
    finally:
        db.close()

    _downgrade(db_url, "0001")
    assert migrations.current(db_url) == "0001"
    columns, indexes = _alert_columns(db_url)
    assert not {"occurrences", "last_seen_at"} & columns
    assert "ix_alerts_channel_status_top_label" not in indexes
    assert {"ix_alerts_channel_created_at", "ix_alerts_status_created_at"} <= indexes
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(LEGACY_ALERTS)).scalar() == 1
    finally:
        engine.dispose()
    migrations.upgrade(db_url, "0002")  # and back up again
    assert migrations.current(db_url) == "0002"
