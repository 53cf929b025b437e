"""Uploads: videos (status, content hash, shared analysis, verdict), status history, tags.

Revision ID: 0005_uploads
Revises: 0004_job_frames
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_uploads"
down_revision: str | None = "0004_job_frames"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "videos",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("uploader", sa.String(length=200), nullable=False),
        sa.Column("analysis_of", sa.String(length=32), nullable=True),
        sa.Column("analysis", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("override_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_videos")),
    )
    op.create_index(op.f("ix_videos_status"), "videos", ["status"], unique=False)
    op.create_index(op.f("ix_videos_content_hash"), "videos", ["content_hash"], unique=False)
    op.create_index(op.f("ix_videos_analysis_of"), "videos", ["analysis_of"], unique=False)
    op.create_index(op.f("ix_videos_created_at"), "videos", ["created_at"], unique=False)
    op.create_table(
        "video_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_video_events_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_events")),
    )
    op.create_index(op.f("ix_video_events_video_id"), "video_events", ["video_id"], unique=False)
    op.create_table(
        "video_tags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_video_tags_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_tags")),
    )
    op.create_index("ix_video_tags_name_video_id", "video_tags", ["name", "video_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_video_tags_name_video_id", table_name="video_tags")
    op.drop_table("video_tags")
    op.drop_index(op.f("ix_video_events_video_id"), table_name="video_events")
    op.drop_table("video_events")
    for name in ("created_at", "analysis_of", "content_hash", "status"):
        op.drop_index(op.f(f"ix_videos_{name}"), table_name="videos")
    op.drop_table("videos")
