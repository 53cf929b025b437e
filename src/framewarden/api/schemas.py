"""Request and response bodies of the API (apart from the table models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelCreate(_In):
    name: str = Field(..., description="Channel name (slug: letters, digits, . _ -).")
    source_url: str = Field(..., description="Live source URL: rtmp://, rtsp://, srt://, http(s)://...")
    controller: str | None = Field(
        None,
        max_length=200,
        description="Name of a stream controller defined in the server's settings ([controllers.NAME]): "
        'how "stop stream" reaches the streaming server. None = the stream cannot be stopped upstream.',
    )
    trusted: bool = Field(False, description="Trusted channels may use the rule's longer sample interval.")
    start: bool = Field(True, description="Start analyzing at once.")

    @field_validator("controller", mode="before")
    @classmethod
    def _by_name_only(cls, v: object) -> object:
        if isinstance(v, dict):
            raise ValueError(
                "controllers are defined by the operator in the server's settings ([controllers.NAME]); "
                "send the controller's name"
            )
        return v


class ChannelPublic(BaseModel):
    name: str
    source_url: str = Field(
        ..., description="Credentials masked (rtsp://***@host/...) except for admins reading one channel."
    )
    desired_state: str
    trusted: bool
    controller: str | None = Field(None, description="Name of the stream controller (settings).")
    state: str = Field(..., description="starting | live | reconnecting | stopped | error")
    reason: str = ""
    rule_id: str | None = None
    stats: dict[str, Any] = Field(default_factory=dict)


class ControllerPublic(BaseModel):
    name: str = Field(..., description="What a channel's `controller` names.")
    type: str = Field(..., description="nginx_rtmp | http | command | null (the config stays private).")


class Review(_In):
    note: str | None = Field(None, max_length=2000, description="Optional note kept in the alert's history.")


class AlertPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    channel: str
    status: str
    severity: int


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


class KeyCreate(_In):
    name: str
    role: Literal["admin", "moderator", "viewer", "ingest"]


class KeyCreated(BaseModel):
    id: str
    name: str
    role: str
    key: str = Field(..., description="The full key: shown once, store it now.")


class ResultPublic(BaseModel):
    id: int
    channel: str
    frame_seq: int
    pts_ms: float
    captured_at: datetime | None
    analyzed_at: datetime
    labels: list[dict[str, Any]]
    top_label: str | None
    peak_confidence: float
    evidence_key: str | None
