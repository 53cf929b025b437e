"""Notification targets (what the operator configures) and the Notifier protocol.

Targets are pydantic models discriminated on ``type`` so the store can keep
them as JSON (``model_dump(mode="json")``) and read them back unchanged.
Secrets (webhook key, SMTP password) are therefore plain strings kept out of
``repr``; the store is the place that protects them at rest.

A :class:`Message` is what every notifier sends: one frozen, picklable value
with the few fields a URL template may use and the full JSON body.
"""

from __future__ import annotations

import json
import re
import string
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from framewarden.errors import FramewardenError
from framewarden.rules.verdict import Verdict

TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
# Fields a webhook URL template may name, e.g. https://hooks/x?ch={channel}
TEMPLATE_FIELDS = frozenset({"kind", "channel", "alert_id", "rule_id", "action", "label"})


class NotificationError(FramewardenError):
    """A delivery that did not go through; one line naming the target."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"notification target {target!r}: {reason}")
        self.target = target
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, the same for every kind of target."""

    kind: str  # "alert", "alert_updated", "test"
    channel: str
    alert_id: int | str | None  # the store's alert id (None for a test message)
    summary: str  # one line for people (e-mail subject, chat text)
    rule_id: str = ""
    action: str = ""  # strongest action of the verdict
    label: str = ""  # the peak violation's label
    payload: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def template_fields(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "channel": self.channel,
            "alert_id": "" if self.alert_id is None else str(self.alert_id),
            "rule_id": self.rule_id,
            "action": self.action,
            "label": self.label,
        }

    def body(self) -> dict[str, Any]:
        """The JSON document sent to webhooks and attached to e-mails."""
        return {
            **self.template_fields(),
            "alert_id": self.alert_id,
            "summary": self.summary,
            "at": self.at,
            "payload": self.payload,
        }

    def body_bytes(self) -> bytes:
        return json.dumps(self.body(), separators=(",", ":"), sort_keys=True, default=str).encode()

    @classmethod
    def from_verdict(cls, verdict: Verdict, *, alert_id: int | str | None, kind: str = "alert") -> Message:
        peak = verdict.peak
        action = peak.action.value if peak else ""
        label = peak.label if peak else ""
        conf = f" ({peak.confidence:.0f}%)" if peak else ""
        return cls(
            kind=kind,
            channel=verdict.channel,
            alert_id=alert_id,
            summary=f"[{action or 'clean'}] {label or 'no violation'}{conf} on channel {verdict.channel}",
            rule_id=verdict.rule_id,
            action=action,
            label=label,
            payload=verdict.to_dict(),
        )


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1, max_length=64, description="Unique name rules refer to.")

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not TARGET_NAME.fullmatch(v):
            raise ValueError(f"target name {v!r} must match [a-z0-9][a-z0-9_.-]*")
        return v


class WebhookTarget(_Target):
    type: Literal["webhook"] = "webhook"
    url: str = Field(
        ...,
        description="http(s) URL; may name {channel}, {alert_id}, {rule_id}, {action}, "
        "{label}, {kind} (values are URL-encoded).",
    )
    secret: str = Field("", repr=False, description="HMAC-SHA256 key; empty = unsigned requests.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers.")
    timeout_s: float = Field(5.0, gt=0, le=120, description="Connect + read timeout per attempt.")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"webhook url {v!r} must start with http:// or https://")
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(v) if f is not None}
        except ValueError as exc:
            raise ValueError(f"webhook url {v!r}: bad template: {exc}") from None
        unknown = names - TEMPLATE_FIELDS
        if unknown:
            raise ValueError(
                f"webhook url {v!r} names unknown fields {sorted(unknown)}; "
                f"allowed: {sorted(TEMPLATE_FIELDS)}"
            )
        return v


class EmailTarget(_Target):
    type: Literal["email"] = "email"
    to: list[str] = Field(..., min_length=1, description="Recipient addresses.")
    subject_prefix: str = Field("[framewarden]", description="Put before each subject.")
    host: str | None = Field(None, description="SMTP host; None = Settings.smtp_host.")
    port: int | None = Field(None, ge=1, le=65535, description="SMTP port; None = Settings.smtp_port.")
    security: Literal["starttls", "ssl", "plain"] | None = Field(
        None, description="None = starttls if Settings.smtp_starttls else plain."
    )
    username: str | None = Field(None, description="AUTH user; None = Settings.smtp_username.")
    password: str | None = Field(None, repr=False, description="AUTH password; None = setting.")
    sender: str | None = Field(None, description="From address; None = Settings.smtp_from.")
    ca_file: str | None = Field(None, description="CA bundle to trust for TLS (self-signed servers).")
    timeout_s: float = Field(10.0, gt=0, le=300, description="Socket timeout per attempt.")

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for addr in v:
            if "@" not in addr or any(c in addr for c in "\r\n,;<> "):
                raise ValueError(f"recipient {addr!r} is not a plain e-mail address")
        return v


class NullTarget(_Target):
    type: Literal["null"] = "null"


NotificationTarget = Annotated[WebhookTarget | EmailTarget | NullTarget, Field(discriminator="type")]
_ADAPTER: TypeAdapter[WebhookTarget | EmailTarget | NullTarget] = TypeAdapter(NotificationTarget)


def parse_target(data: Any) -> WebhookTarget | EmailTarget | NullTarget:
    """A target from its JSON form (as the store keeps it)."""
    return _ADAPTER.validate_python(data)


class Notifier(Protocol):
    """Sends one message to one target; raises :class:`NotificationError` on failure."""

    name: str

    def send(self, message: Message) -> None: ...
