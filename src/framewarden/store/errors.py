"""Errors of the store: a record that is not there, or a change that is not allowed.

The API maps them to 404 and 409; the CLI prints their one-line message.
"""

from __future__ import annotations

from framewarden.errors import FramewardenError


class NotFoundError(FramewardenError):
    """No record of this kind with this key: ``alert 42: not found``."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key}: not found")
        self.kind = kind
        self.key = key


class ConflictError(FramewardenError):
    """A change that clashes with the record's state (a duplicate name, an illegal transition)."""

    def __init__(self, kind: str, key: object, reason: str) -> None:
        super().__init__(f"{kind} {key}: {reason}")
        self.kind = kind
        self.key = key
        self.reason = reason
