"""Migration 0003: inline controllers become names; rules lose ``analyzers``; and back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect

from framewarden.store import migrations
from framewarden.store.db import make_engine

T0 = datetime(2025, 1, 1, tzinfo=UTC)
REVISION = "0003_controller_names"


def _run(url: str, sql: str, **params: object) -> list[sa.Row[object]]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def _channel_columns(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("channels")}
    finally:
        engine.dispose()


def test_inline_controllers_become_names_the_operator_must_define(db_url: str) -> None:
    migrations.upgrade(db_url, "0002")
    inline = {
        "cmd": {"type": "command", "argv": ["rm", "-rf", "/"]},
        "ngx": {"type": "nginx_rtmp", "control_url": "http://u:pw@127.0.0.1:8080/control"},
        "none": {"type": "null"},
        "empty": {},
    }
    for name, controller in inline.items():
        _run(
            db_url,
            "INSERT INTO channels"
            " (name, source_url, controller, trusted, desired_state, created_at, updated_at)"
            " VALUES (:n, 'rtmp://127.0.0.1/live/x', :c, false, 'running', :t, :t)",
            n=name,
            c=json.dumps(controller),
            t=T0,
        )
    body = {"id": "r", "channel": "cmd", "labels": {"Explicit": 50}, "analyzers": ["nudenet"]}
    _run(
        db_url,
        "INSERT INTO rules (id, scope, channel, priority, enabled, version, body, created_at, updated_at)"
        " VALUES ('r', 'channel', 'cmd', 100, true, 1, :b, :t, :t)",
        b=json.dumps(body),
        t=T0,
    )
    _run(
        db_url,
        "INSERT INTO rule_versions (rule_id, version, action, body, author, changed_at)"
        " VALUES ('r', 1, 'create', :b, 'me', :t)",
        b=json.dumps(body),
        t=T0,
    )

    migrations.upgrade(db_url, REVISION)
    assert migrations.current(db_url) == REVISION
    assert "controller" not in _channel_columns(db_url)
    names = dict(_run(db_url, "SELECT name, controller_name FROM channels"))  # type: ignore[arg-type]
    assert names == {"cmd": "migrated-cmd", "ngx": "migrated-ngx", "none": None, "empty": None}
    for table in ("rules", "rule_versions"):
        (raw,) = _run(db_url, f"SELECT body FROM {table}")[0]
        stored = json.loads(raw) if isinstance(raw, str) else raw
        assert "analyzers" not in stored and stored["labels"] == {"Explicit": 50}

    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            config = migrations.alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0002")
    finally:
        engine.dispose()
    assert {"controller"} <= _channel_columns(db_url) and "controller_name" not in _channel_columns(db_url)
