"""Channels repository on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from framewarden.errors import InputError
from framewarden.store import channels
from framewarden.store.db import Database
from framewarden.store.errors import ConflictError, NotFoundError


def test_create_get_list(db: Database) -> None:
    with db.begin() as s:
        created = channels.create_channel(
            s, name="live-1", source_url="rtmp://127.0.0.1/live/1", controller_name="edge", trusted=True
        )
        channels.create_channel(s, name="cam-a", desired_state="running")
    assert created.id > 0
    with db.read() as s:
        got = channels.require_channel(s, name="live-1")
        assert (got.source_url, got.controller_name, got.trusted, got.desired_state) == (
            "rtmp://127.0.0.1/live/1",
            "edge",
            True,
            "stopped",
        )
        assert got.created_at.tzinfo is not None
        assert [c.name for c in channels.list_channels(s)] == ["cam-a", "live-1"]
        assert [c.name for c in channels.list_channels(s, desired_state="running")] == ["cam-a"]


def test_names_are_unique(db: Database) -> None:
    with db.begin() as s:
        channels.create_channel(s, name="live-1")
    with pytest.raises(ConflictError, match="channel live-1: already exists"), db.begin() as s:
        channels.create_channel(s, name="live-1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"name": ""}, "channel name"), ({"name": "x", "desired_state": "paused"}, "desired_state")],
)
def test_bad_input_is_named(db: Database, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message), db.begin() as s:
        channels.create_channel(s, **kwargs)  # type: ignore[arg-type]


def test_update_changes_only_given_fields(db: Database) -> None:
    with db.begin() as s:
        channels.create_channel(s, name="c", source_url="rtmp://a", rule_id="r1")
    with db.begin() as s:
        before = channels.require_channel(s, name="c").updated_at
        channels.update_channel(s, name="c", desired_state="running", rule_id=None)
    with db.read() as s:
        c = channels.require_channel(s, name="c")
        assert (c.source_url, c.rule_id, c.desired_state) == ("rtmp://a", None, "running")
        assert c.updated_at >= before


def test_delete_and_missing(db: Database) -> None:
    with db.begin() as s:
        channels.create_channel(s, name="c")
    with db.begin() as s:
        channels.delete_channel(s, name="c")
    with db.read() as s:
        assert channels.get_channel(s, name="c") is None
    with pytest.raises(NotFoundError, match="channel c: not found"), db.begin() as s:
        channels.update_channel(s, name="c", trusted=True)
