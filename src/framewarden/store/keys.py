"""API keys: random secrets of which only a SHA-256 hash is stored.

A key reads ``fw_<prefix>_<secret>``.  The prefix is public and indexed, so a
request's key is found with one lookup, then its hash is compared in constant
time.  The full key is shown once, at creation; it cannot be recovered.
A 256-bit random secret needs no slow password hash: there is nothing to
brute-force.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from framewarden.config import Settings
from framewarden.errors import InputError
from framewarden.store.errors import NotFoundError
from framewarden.store.models import ApiKey, utcnow

Role = Literal["admin", "moderator", "viewer", "ingest"]
ROLES: tuple[str, ...] = ("admin", "moderator", "viewer", "ingest")
KEY_PREFIX = "fw"


def hash_secret(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, *, name: str, role: Role) -> tuple[ApiKey, str]:
    """A new key; returns the row and the full key, which is never stored."""
    if role not in ROLES:
        raise InputError("role", f"{role!r} is not one of {', '.join(ROLES)}")
    if not name.strip():
        raise InputError("key name", "must not be empty")
    prefix = secrets.token_hex(6)
    full = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(id=secrets.token_hex(8), name=name, role=role, prefix=prefix, key_hash=hash_secret(full))
    session.add(row)
    session.flush()
    return row, full


TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is coarse: one write per key per minute at most


def needs_touch(row: ApiKey, now: datetime | None = None) -> bool:
    """Whether ``row.last_used_at`` is older than :data:`TOUCH_EVERY`."""
    last = row.last_used_at
    return last is None or (now or utcnow()) - last >= TOUCH_EVERY


def touch_key(session: Session, *, key_id: str, now: datetime | None = None) -> None:
    """Mark a key used now (its own short write, apart from the request's reads)."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now or utcnow()))


def verify_key(
    session: Session, *, key: str, now: datetime | None = None, touch: bool = True
) -> ApiKey | None:
    """The live key row for a presented key, or None; marks it used unless ``touch=False``."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, hash_secret(key)):
        return None
    if touch:
        row.last_used_at = now or utcnow()
        session.flush()
    return row


def get_key(session: Session, *, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_keys(session: Session, *, include_revoked: bool = False) -> Sequence[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return session.scalars(stmt).all()


def revoke_key(session: Session, *, key_id: str) -> ApiKey:
    """Revoke a key (idempotent: a revoked key keeps its first revocation time)."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError("api key", key_id)
    row.revoked_at = row.revoked_at or utcnow()
    session.flush()
    return row


# --- AWS-style access keys (SigV4) ------------------------------------------------------
#
# A SigV4 verifier must know the secret itself, not a hash of it.  Nothing
# secret is stored: the secret access key is derived from a server master
# secret and the public access key id (HMAC-SHA256), so a stolen database
# alone yields no secret, and the row keeps only a SHA-256 of the secret to
# notice a changed master.  The id shares the ``prefix`` column (unique,
# indexed) with ordinary keys; its ``FWAK`` start tells the two apart.

AWS_KEY_ID_PREFIX = "FWAK"
_AWS_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def derive_aws_secret(master: bytes, access_key_id: str) -> str:
    digest = hmac.new(master, f"framewarden-aws-key\0{access_key_id}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()[:40]


def is_aws_key_id(value: str) -> bool:
    return value.startswith(AWS_KEY_ID_PREFIX) and len(value) == 20


def create_aws_key(session: Session, *, name: str, role: Role, master: bytes) -> tuple[ApiKey, str, str]:
    """A new AWS-style key; returns the row, the access key id and the secret (never stored)."""
    if role not in ROLES:
        raise InputError("role", f"{role!r} is not one of {', '.join(ROLES)}")
    if not name.strip():
        raise InputError("key name", "must not be empty")
    access_key_id = AWS_KEY_ID_PREFIX + "".join(secrets.choice(_AWS_ID_CHARS) for _ in range(16))
    secret = derive_aws_secret(master, access_key_id)
    row = ApiKey(
        id=secrets.token_hex(8), name=name, role=role, prefix=access_key_id, key_hash=hash_secret(secret)
    )
    session.add(row)
    session.flush()
    return row, access_key_id, secret


def aws_key_secret(session: Session, *, access_key_id: str, master: bytes) -> tuple[ApiKey, str] | None:
    """The live key row of an access key id and its secret, or None if unknown or revoked."""
    if not is_aws_key_id(access_key_id):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == access_key_id))
    if row is None or row.revoked_at is not None:
        return None
    secret = derive_aws_secret(master, access_key_id)
    if not hmac.compare_digest(row.key_hash, hash_secret(secret)):
        return None  # the master changed since the key was made
    return row, secret


def load_key_master(settings: Settings) -> bytes:
    """The master secret of AWS-style keys: from settings, else a random file in the data dir."""
    configured = settings.aws_key_master.get_secret_value()
    if configured:
        return configured.encode()
    path = settings.ensure_data_dir() / "aws-key-master"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    return value
