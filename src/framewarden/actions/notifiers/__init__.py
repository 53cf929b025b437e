"""Notifiers: webhook, e-mail and a do-nothing default, behind one dispatcher."""

from __future__ import annotations

from collections.abc import Iterable

from framewarden.actions.notifiers.base import (
    EmailTarget,
    Message,
    NotificationError,
    NotificationTarget,
    Notifier,
    NullTarget,
    WebhookTarget,
    parse_target,
)
from framewarden.actions.notifiers.dispatcher import DeliveryRecord, Dispatcher, RetryPolicy
from framewarden.actions.notifiers.email import EmailNotifier
from framewarden.actions.notifiers.null import NullNotifier
from framewarden.actions.notifiers.webhook import WebhookNotifier, verify_signature
from framewarden.config import Settings


def build_notifier(
    target: WebhookTarget | EmailTarget | NullTarget, settings: Settings | None = None
) -> Notifier:
    """The notifier for one configured target."""
    if isinstance(target, WebhookTarget):
        return WebhookNotifier(target)
    if isinstance(target, EmailTarget):
        return EmailNotifier(target, settings)
    return NullNotifier(target)


def build_notifiers(
    targets: Iterable[WebhookTarget | EmailTarget | NullTarget], settings: Settings | None = None
) -> dict[str, Notifier]:
    return {t.name: build_notifier(t, settings) for t in targets}


__all__ = [
    "DeliveryRecord",
    "Dispatcher",
    "EmailNotifier",
    "EmailTarget",
    "Message",
    "NotificationError",
    "NotificationTarget",
    "Notifier",
    "NullNotifier",
    "NullTarget",
    "RetryPolicy",
    "WebhookNotifier",
    "WebhookTarget",
    "build_notifier",
    "build_notifiers",
    "parse_target",
    "verify_signature",
]
