"""Table models: one typed SQLAlchemy 2 class per durable record.

The same models run on SQLite (the embedded default) and PostgreSQL, so only
portable types are used: JSON documents, timezone-aware timestamps stored as
UTC (SQLite has no time zones: :class:`UTCDateTime` restores them on read),
and integer keys that autoincrement on both.  Results and alerts name their
channel by string rather than by foreign key: images pushed over REST and
job files have a channel name but no channel row.

The Alembic revisions in ``migrations/versions`` must create exactly these
tables; ``tests/store/test_migrations.py`` compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so later migrations can alter them on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT keys on PostgreSQL; SQLite only autoincrements a column typed INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware, in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite stores text; without the offset, strings sort in time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_url: Mapped[str] = mapped_column(Text, default="")
    rule_id: Mapped[str | None] = mapped_column(String(100))
    controller_name: Mapped[str | None] = mapped_column(String(200))  # a name in settings.controllers
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    desired_state: Mapped[str] = mapped_column(String(20), default="stopped")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RuleRow(Base):
    """The current version of a rule: its JSON body plus the columns we select on."""

    __tablename__ = "rules"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    scope: Mapped[str] = mapped_column(String(10), index=True)
    channel: Mapped[str | None] = mapped_column(String(200), index=True)
    channel_pattern: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RuleVersion(Base):
    """Every change of a rule, kept after the rule is deleted: who changed what, when."""

    __tablename__ = "rule_versions"

    rule_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(10))  # create | update | delete
    body: Mapped[dict[str, Any]]
    author: Mapped[str] = mapped_column(String(200), default="")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Result(Base):
    """One analyzed frame (or image): its labels and where its evidence is kept."""

    __tablename__ = "results"
    __table_args__ = (
        Index("ix_results_channel_analyzed_at", "channel", "analyzed_at"),
        Index("ix_results_job_id_pts_ms", "job_id", "pts_ms"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(200))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    frame_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    pts_ms: Mapped[float] = mapped_column(Float, default=0.0)
    captured_at: Mapped[datetime | None]
    analyzed_at: Mapped[datetime] = mapped_column(default=utcnow)
    labels: Mapped[list[Any]] = mapped_column(default=list)  # [{"Name", "ParentName", "TaxonomyLevel", ...}]
    tags: Mapped[list[Any]] = mapped_column(default=list)
    top_label: Mapped[str | None] = mapped_column(String(200))
    peak_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    evidence_key: Mapped[str | None] = mapped_column(Text)
    # Job frames: media time of the last sampled frame skipped as a duplicate of this one.
    covered_until_ms: Mapped[float | None] = mapped_column(Float)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_channel_created_at", "channel", "created_at"),
        Index("ix_alerts_status_created_at", "status", "created_at"),
        # The grouping lookup: the open alert of a channel with a given top label.
        Index("ix_alerts_channel_status_top_label", "channel", "status", "top_label"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    severity: Mapped[int] = mapped_column(Integer, default=1)
    top_label: Mapped[str | None] = mapped_column(String(200))
    peak_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    labels: Mapped[list[Any]] = mapped_column(default=list)  # label names, ancestors included
    violations: Mapped[list[Any]] = mapped_column(default=list)
    actions: Mapped[list[Any]] = mapped_column(default=list)
    notify: Mapped[list[Any]] = mapped_column(default=list)
    rule_id: Mapped[str] = mapped_column(String(100), default="")
    rule_version: Mapped[int] = mapped_column(Integer, default=0)
    frame_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    pts_ms: Mapped[float] = mapped_column(Float, default=0.0)
    result_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("results.id", ondelete="SET NULL"))
    evidence_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    escalated_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    # Grouping: how many flagged frames this alert stands for, and when the latest was seen.
    occurrences: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    last_seen_at: Mapped[datetime | None]


class AlertLabel(Base):
    """One label name of an alert, so alerts filter by label on both databases."""

    __tablename__ = "alert_labels"

    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class AlertEvent(Base):
    """The review history of an alert: who did what, when, with which note."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """The delivery log: one row per attempt to send an alert to a target."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target: Mapped[str] = mapped_column(String(200), index=True)
    alert_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="SET NULL"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))  # sent | failed | dropped ...
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiKey(Base):
    """An API key: only the SHA-256 of its secret is kept, found by its public prefix."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Video(Base):
    """An uploaded video and its moderation status (see jobs/uploads.py for the status flow).

    ``analysis_of`` names the video whose analysis this one shares (same
    content hash, analyzed once); ``analysis`` holds tags, transcript and
    labels, written once when the analysis is done.
    """

    __tablename__ = "videos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="uploaded", index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    filename: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(Text)  # stored file (named by hash) or s3:// reference
    uploader: Mapped[str] = mapped_column(String(200), default="")
    analysis_of: Mapped[str | None] = mapped_column(String(32), index=True)
    analysis: Mapped[dict[str, Any]] = mapped_column(default=dict)
    verdict: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    failure: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    override_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class VideoEvent(Base):
    """One status change of a video: who or what made it, and why."""

    __tablename__ = "video_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20), default="")
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200), default="system")
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class VideoTag(Base):
    """A tag of an analyzed video, for search (``GET /v1/videos?tag=``); time ranges live in the analysis."""

    __tablename__ = "video_tags"
    __table_args__ = (Index("ix_video_tags_name_video_id", "name", "video_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))  # lower case
    kind: Mapped[str] = mapped_column(String(20))  # label, tag, ocr_keyword, spoken_keyword


class NotificationTargetRow(Base):
    """A notification target created through the API (settings' targets are not stored)."""

    __tablename__ = "notification_targets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the target's JSON, secrets included
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
