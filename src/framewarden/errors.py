"""Typed errors for bad input: each names the input it is about."""

from __future__ import annotations


class FramewardenError(Exception):
    """Base of every error framewarden raises on purpose."""


class InputError(FramewardenError):
    """An input (file, URL, upload) that cannot be used.

    ``str()`` is one line: ``<source>: <reason>``, fit for a CLI or a report.
    """

    kind = "invalid_input"

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        # Rebuilt from (source, reason), not from the message: it crosses processes (Ray tasks).
        return (type(self), (self.source, self.reason))


class EmptyInputError(InputError):
    kind = "empty"


class UnsupportedInputError(InputError):
    kind = "unsupported"


class CorruptInputError(InputError):
    kind = "corrupt"


class TooLargeInputError(InputError):
    kind = "too_large"


class SourceTimeoutError(InputError):
    kind = "timeout"


class ConfigError(FramewardenError):
    """A setting, rule or analyzer config that is not valid."""
