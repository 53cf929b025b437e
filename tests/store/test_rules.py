"""Rules stored as versioned JSON documents: history survives updates and deletes."""

from __future__ import annotations

from typing import Any

import pytest

from framewarden.errors import ConfigError
from framewarden.store import rules
from framewarden.store.db import Database
from framewarden.store.errors import ConflictError, NotFoundError


def _rule(rule_id: str = "r1", **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "channel_pattern": "^live-", "labels": {"Explicit": 80.0}} | extra


def test_create_update_delete_history(db: Database) -> None:
    with db.begin() as s:
        rules.create_rule(s, body=_rule(), author="alice")
    with db.begin() as s:
        row = rules.update_rule(s, body=_rule(priority=5), author="bob")
        assert row.version == 2 and row.priority == 5
    with db.begin() as s:
        rules.delete_rule(s, rule_id="r1", author="carol")
    with db.read() as s:
        assert rules.get_rule(s, rule_id="r1") is None
        history = rules.rule_history(s, rule_id="r1")
    assert [(v.version, v.action, v.author) for v in history] == [
        (1, "create", "alice"),
        (2, "update", "bob"),
        (3, "delete", "carol"),
    ]
    assert history[0].body["priority"] != 5 and history[1].body["priority"] == 5
    assert history[0].changed_at <= history[1].changed_at <= history[2].changed_at


def test_versions_keep_growing_after_a_recreate(db: Database) -> None:
    with db.begin() as s:
        rules.create_rule(s, body=_rule(), author="a")
        rules.delete_rule(s, rule_id="r1", author="a")
        row = rules.create_rule(s, body=_rule(), author="b")
    assert row.version == 3
    with db.read() as s:
        v1 = rules.get_rule_version(s, rule_id="r1", version=1)
        assert v1 is not None and v1.author == "a"


def test_an_unchanged_body_makes_no_version(db: Database) -> None:
    with db.begin() as s:
        rules.save_rule(s, body=_rule(), author="a")
        row = rules.save_rule(s, body=_rule(), author="b")
    assert row.version == 1
    with db.read() as s:
        assert len(rules.rule_history(s, rule_id="r1")) == 1


def test_indexed_columns_follow_the_body(db: Database) -> None:
    with db.begin() as s:
        rules.create_rule(s, body=_rule("g", priority=50), author="a")
        rules.create_rule(s, body={"id": "c", "channel": "live-1", "labels": {}}, author="a")
        rules.create_rule(s, body=_rule("off", enabled=False), author="a")
    with db.read() as s:
        assert [(r.id, r.scope) for r in rules.list_rules(s)] == [
            ("c", "channel"),
            ("g", "global"),
            ("off", "global"),
        ]
        assert [r.id for r in rules.list_rules(s, scope="global", enabled=True)] == ["g"]
        assert [r.id for r in rules.list_rules(s, channel="live-1")] == ["c"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"id": "Bad Id", "channel": "x"}, "Bad Id"),
        ({"id": "both", "channel": "x", "channel_pattern": "x"}, "both"),
        ({"id": "bad-re", "channel_pattern": "("}, "bad-re"),
    ],
)
def test_invalid_rules_are_refused_by_name(db: Database, body: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message), db.begin() as s:
        rules.create_rule(s, body=body, author="a")


def test_duplicates_and_missing(db: Database) -> None:
    with db.begin() as s:
        rules.create_rule(s, body=_rule(), author="a")
    with pytest.raises(ConflictError, match="rule r1: already exists"), db.begin() as s:
        rules.create_rule(s, body=_rule(), author="a")
    with pytest.raises(NotFoundError, match="rule nope"), db.begin() as s:
        rules.update_rule(s, body=_rule("nope"), author="a")


def test_load_rules_feeds_the_resolver(db: Database) -> None:
    from framewarden.rules.models import Rule
    from framewarden.rules.resolve import resolve

    with db.begin() as s:
        rules.create_rule(s, body=_rule("g"), author="a")
        rules.create_rule(s, body={"id": "c", "channel": "live-1", "labels": {}}, author="a")
        rules.create_rule(s, body={"id": "off", "channel": "live-2", "enabled": False}, author="a")
    with db.read() as s:
        loaded = rules.load_rules(s)
    assert all(isinstance(r, Rule) for r in loaded)
    assert sorted(r.id for r in loaded) == ["c", "g"]
    assert resolve(loaded, "live-1").id == "c"
    assert resolve(loaded, "live-2").id == "g"
