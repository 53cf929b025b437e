"""Channels name their stream controller; rules lose the ignored ``analyzers`` field.

Stream controllers used to be stored inline with each channel, as sent by an
API client (including ``command`` controllers that ran programs on the host).
Now the operator defines them in settings (``[controllers.NAME]``) and a
channel stores only ``controller_name``.

An inline controller cannot be kept (it was never vetted by the operator), and
dropping it silently would leave a channel whose "stop stream" does nothing.
So a channel that had one gets ``controller_name = "migrated-<channel>"``, a
name no settings file defines yet: at start-up that channel shows ``error``
with a reason naming the missing controller, until the operator defines it
(or clears the name).  Its kind (and, for HTTP kinds, its URL with credentials
masked) is logged here to help write the settings entry.  Channels without a
controller (``{}`` or ``type = "null"``) get none.

Rule bodies (current and history) drop ``analyzers``: the server never
honoured it (see docs/rules.md); the rule otherwise stays as it was.

Revision ID: 0003_controller_names
Revises: 0002
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from framewarden.redact import redact_url

revision: str = "0003_controller_names"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("framewarden.store.migrations")
MIGRATED_PREFIX = "migrated-"


def migrated_name(channel: str) -> str:
    return f"{MIGRATED_PREFIX}{channel}"[:200]


def _inline_kind(config: Any) -> str:
    if not isinstance(config, dict) or not config:
        return ""
    return str(config.get("type") or "")


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("controller_name", sa.String(length=200), nullable=True))
    bind = op.get_bind()
    channels = sa.table(
        "channels",
        sa.column("id", sa.BigInteger),
        sa.column("name", sa.String),
        sa.column("controller", sa.JSON),
        sa.column("controller_name", sa.String),
    )
    for row in bind.execute(sa.select(channels.c.id, channels.c.name, channels.c.controller)).all():
        kind = _inline_kind(row.controller)
        if kind in {"", "null"}:
            continue
        name = migrated_name(row.name)
        bind.execute(channels.update().where(channels.c.id == row.id).values(controller_name=name))
        url = str(row.controller.get("control_url") or row.controller.get("url") or "")
        log.warning(
            "channel %s had an inline %s controller%s: define it in settings as [controllers.%s] "
            "(the channel stays in error until then)",
            row.name,
            kind,
            f" ({redact_url(url)})" if url else "",
            name,
        )
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("controller")
    for table_name in ("rules", "rule_versions"):
        _strip_analyzers(bind, table_name)


def _strip_analyzers(bind: Any, table_name: str) -> None:
    key_cols = ("id",) if table_name == "rules" else ("rule_id", "version")
    keyed = sa.table(table_name, *(sa.column(c) for c in key_cols), sa.column("body", sa.JSON))
    for row in bind.execute(sa.select(*keyed.c)).all():
        body = row.body
        if isinstance(body, dict) and "analyzers" in body:
            cleaned = {k: v for k, v in body.items() if k != "analyzers"}
            where = sa.and_(*(keyed.c[c] == getattr(row, c) for c in key_cols))
            bind.execute(keyed.update().where(where).values(body=cleaned))


def downgrade() -> None:
    # Inline configs cannot come back: the old column returns empty (no controller).
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("controller", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("controller_name")
