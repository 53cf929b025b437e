"""The do-nothing notifier: the default, so callers never check for ``None``."""

from __future__ import annotations

from framewarden.actions.notifiers.base import Message, NullTarget


class NullNotifier:
    def __init__(self, target: NullTarget | None = None) -> None:
        self.name = target.name if target else "null"

    def send(self, message: Message) -> None:
        """Drop the message."""
