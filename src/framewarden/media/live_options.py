"""Options a user gives a live source, and URLs made safe to show.

Options travel in the URL's *fragment*, which no protocol ever sends to a
server, so they cannot collide with a camera's own query string::

    rtsp://cam.local/stream#rtsp_transport=udp&timeout=5&stall_frames=60
    https://cdn.example/live/index.m3u8#live_edge=0

Every key is validated here (unknown keys and bad values are refused with
one line naming them), then mapped onto FFmpeg options by the source.
Secrets (a URL's password, an SRT ``passphrase``) never reach a reason, a log
line or an error: :func:`redact_url` and :func:`redact_text` blank them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from framewarden.errors import InputError

RtspTransport = Literal["tcp", "udp"]
SECRET_KEYS = frozenset({"passphrase", "password", "pass", "pwd", "token", "key", "secret", "auth"})
_MASK = "***"
DEFAULT_STALL_FRAMES = 30  # at 25-30 fps: a dropped publisher is noticed after about a second
MIN_STALL_S = 0.5  # never shorter: scheduling jitter on a busy host is not a stall


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """Per-source options (from the URL fragment); ``None`` = the channel's default."""

    rtsp_transport: RtspTransport = "tcp"
    timeout_s: float | None = None  # open and read timeout
    stall_frames: int = DEFAULT_STALL_FRAMES  # no new data for this many frame intervals = stalled
    live_edge: bool = True  # HLS: start at the newest segment, not the oldest of the playlist


def split_options(source: str) -> tuple[str, LiveOptions]:
    """``source`` without its fragment, and the options the fragment names."""
    if "#" not in source or "://" not in source:
        return source, LiveOptions()
    url, _, fragment = source.partition("#")
    shown = redact_url(url)
    values: dict[str, object] = {}
    try:
        pairs = parse_qsl(fragment, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InputError(shown, f"cannot read source options {fragment!r} (want key=value&...)") from None
    for key, raw in pairs:
        if key in values:
            raise InputError(shown, f"source option {key!r} given twice")
        values[key] = _parse_option(shown, key, raw)
    if "timeout" in values:
        values["timeout_s"] = values.pop("timeout")
    return url, LiveOptions(**values)  # type: ignore[arg-type]


def _parse_option(shown: str, key: str, raw: str) -> object:
    if key == "rtsp_transport":
        if raw not in ("tcp", "udp"):
            raise InputError(shown, f"rtsp_transport must be tcp or udp, got {raw!r}")
        return raw
    if key == "timeout":
        return _number(shown, key, raw, float, 0.1, 300.0)
    if key == "stall_frames":
        return _number(shown, key, raw, int, 2, 10_000)
    if key == "live_edge":
        if raw not in ("0", "1"):
            raise InputError(shown, f"live_edge must be 0 or 1, got {raw!r}")
        return raw == "1"
    known = "live_edge, rtsp_transport, stall_frames, timeout"
    raise InputError(shown, f"unknown source option {key!r} (known: {known})")


def _number(shown: str, key: str, raw: str, kind: type[float] | type[int], low: float, high: float) -> object:
    try:
        value = kind(raw)
    except ValueError:
        raise InputError(shown, f"{key} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise InputError(shown, f"{key} must be within {low:g}..{high:g}, got {raw}")
    return value if key != "timeout" else float(value)


def redact_url(url: str) -> str:
    """``url`` with its password and secret query values replaced by ``***``."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return _MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{_MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = _SECRET_VALUE.sub(lambda m: f"{m.group(1)}={_MASK}", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_SECRET_VALUE = re.compile(rf"(?i)\b({'|'.join(sorted(SECRET_KEYS))})=[^&\s'\"]*")
_USERINFO = re.compile(r"(://[^:/@\s]+):[^@\s/]*@")


def redact_text(text: str, *secrets: str) -> str:
    """Free text (e.g. FFmpeg's stderr) with URL passwords, secret options and ``secrets`` blanked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    text = _USERINFO.sub(rf"\1:{_MASK}@", text)
    return _SECRET_VALUE.sub(lambda m: f"{m.group(1)}={_MASK}", text)
