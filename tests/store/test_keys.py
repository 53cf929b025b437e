"""API keys: stored hashed, found by prefix, revocable."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from framewarden.errors import InputError
from framewarden.store import keys
from framewarden.store.db import Database
from framewarden.store.errors import NotFoundError
from framewarden.store.models import ApiKey


def test_create_stores_only_a_hash_and_verifies(db: Database) -> None:
    with db.begin() as s:
        row, secret = keys.create_key(s, name="ci", role="moderator")
    assert secret.startswith(f"fw_{row.prefix}_")
    with db.read() as s:
        stored = s.get(ApiKey, row.id)
        assert stored is not None and secret not in (stored.key_hash, stored.prefix, stored.name)
        assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    at = datetime(2025, 3, 1, tzinfo=UTC)
    with db.begin() as s:
        found = keys.verify_key(s, key=secret, now=at)
        assert found is not None and found.role == "moderator"
    with db.read() as s:
        assert keys.get_key(s, key_id=row.id).last_used_at == at  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "mangle", [lambda k: k + "x", lambda k: k[:-1], lambda k: "fw_nope_abc", lambda k: "", str.upper]
)
def test_wrong_keys_are_refused(db: Database, mangle: object) -> None:
    with db.begin() as s:
        _, secret = keys.create_key(s, name="k", role="viewer")
    with db.begin() as s:
        assert keys.verify_key(s, key=mangle(secret)) is None  # type: ignore[operator]


def test_revoked_keys_are_refused_and_hidden(db: Database) -> None:
    with db.begin() as s:
        row, secret = keys.create_key(s, name="k", role="admin")
        keys.create_key(s, name="other", role="ingest")
    with db.begin() as s:
        keys.revoke_key(s, key_id=row.id)
    with db.begin() as s:
        assert keys.verify_key(s, key=secret) is None
        assert [k.name for k in keys.list_keys(s)] == ["other"]
        assert len(keys.list_keys(s, include_revoked=True)) == 2
    with pytest.raises(NotFoundError), db.begin() as s:
        keys.revoke_key(s, key_id="missing")


@pytest.mark.parametrize(("name", "role"), [("k", "root"), ("  ", "admin")])
def test_bad_key_input(db: Database, name: str, role: str) -> None:
    with pytest.raises(InputError), db.begin() as s:
        keys.create_key(s, name=name, role=role)  # type: ignore[arg-type]
