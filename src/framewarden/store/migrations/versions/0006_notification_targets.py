"""Notification targets created through the API (the dashboard's Notifications page).

Targets from settings stay in settings; these are merged with them at
start-up.  The body keeps the target's JSON (secrets included), readable by
admins only through the API, which masks secrets.

Revision ID: 0006_targets
Revises: 0005_uploads
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_targets"
down_revision: str | None = "0005_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_targets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("notification_targets")
