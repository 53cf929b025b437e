"""The stream controller contract: ``stop(channel)``, raising on failure.

A controller is the only part of framewarden that reaches out to the
streaming server; the worker calls it when a rule asks for an auto-stop and
the API calls it when a moderator presses "stop".  Failures raise
:class:`ControllerError` (one line naming the channel) so the caller can
record them; a controller never swallows an error silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from framewarden.errors import FramewardenError
from framewarden.netpolicy import AddressRefusedError, NetworkPolicy
from framewarden.redact import redact_text


class ControllerError(FramewardenError):
    """Stopping a stream failed: ``<channel>: <reason>``."""

    def __init__(self, channel: str, reason: str) -> None:
        reason = redact_text(reason)  # reasons reach moderators, alerts and logs
        super().__init__(f"{channel}: cannot stop stream: {reason}")
        self.channel = channel
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:  # travels between API processes as itself
        return (type(self), (self.channel, self.reason))


@runtime_checkable
class StreamController(Protocol):
    """Stops the stream of one channel at the streaming server."""

    kind: str

    def stop(self, channel: str) -> None: ...


def template_values(channel: str, source: str) -> dict[str, str]:
    """Names a URL or argv template may use: {channel}, {source}, {app}, {stream}.

    ``app`` and ``stream`` come from an RTMP-style source URL
    (``rtmp://host/app/stream``); they are empty when the URL has no path.
    """
    app, stream = split_app_stream(source)
    return {"channel": channel, "source": source, "app": app, "stream": stream}


def split_app_stream(source: str) -> tuple[str, str]:
    """``rtmp://host:1935/live/cam1?k=v`` -> ("live", "cam1"); nested apps keep their slashes."""
    path = urlsplit(source).path.strip("/") if source else ""
    if "/" not in path:
        return path, ""
    app, _, stream = path.rpartition("/")
    return app, stream


def render(template: str, values: Mapping[str, str], *, channel: str) -> str:
    """Fill a template; an unknown placeholder is a clear error, not a KeyError."""
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ControllerError(channel, f"bad template {template!r}: {exc!r}") from None


def check_reachable(policy: NetworkPolicy | None, url: str, *, channel: str) -> None:
    """Refuse a rendered controller URL the operator's network policy does not allow."""
    if policy is None:
        return
    try:
        policy.check_url(url, what="controller URL")
    except AddressRefusedError as exc:
        raise ControllerError(channel, str(exc)) from None
