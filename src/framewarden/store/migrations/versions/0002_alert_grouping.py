"""Alert grouping: a repeat of an open alert updates it instead of opening a new one.

``occurrences`` counts the flagged frames an alert stands for (existing rows
get 1 through the server default: each was one frame); ``last_seen_at`` is
when the latest of them was seen (NULL on old rows: the lookup falls back to
``created_at``).  The index serves the grouping lookup, which runs for every
flagged frame of a live channel.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot drop columns in place (downgrade), so stay symmetric here.
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("occurrences", sa.Integer(), server_default=sa.text("1"), nullable=False))
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_alerts_channel_status_top_label", "alerts", ["channel", "status", "top_label"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_channel_status_top_label", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("last_seen_at")
        batch.drop_column("occurrences")
