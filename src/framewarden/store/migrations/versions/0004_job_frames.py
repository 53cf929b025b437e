"""Job frames: how far a frame's finding stands for its skipped near-duplicates.

A video job keeps one result row per analyzed frame; frames skipped as
near-duplicates extend the row before them (``covered_until_ms``), which is
what segments are built from after a restart.

Revision ID: 0004_job_frames
Revises: 0003_controller_names
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_job_frames"
down_revision: str | None = "0003_controller_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("covered_until_ms", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("covered_until_ms")
