"""Redaction: the one place that hides credentials in URLs, messages and log records.

Source URLs carry credentials (``rtsp://user:pass@cam/...``, ``?token=...``)
and the WebSocket takes an API key as ``?key=``.  Anything shown to a role
below admin, put in a ``reason`` string or written to a log goes through
:func:`redact_text` (or :func:`redact_url` for one URL), so a secret cannot
leak by a path someone forgot: :func:`install_log_redaction` applies the same
rule to every log record the process creates (uvicorn's access log included).

>>> redact_url("rtsp://admin:hunter2@10.0.0.5:554/stream1?token=abc&fps=5")
'rtsp://***@10.0.0.5:554/stream1?token=***&fps=5'
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "***"

# scheme://userinfo@  ->  scheme://***@   (userinfo stops at the first / ? # @ or space)
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#@\s\"'<>]+)@")
# Query parameters that carry secrets, wherever they appear (URLs, access-log paths).
SECRET_PARAMS = (
    "key",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "auth",
    "password",
    "passwd",
    "pass",
    "secret",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
)
_QUERY_SECRET = re.compile(
    r"(?P<lead>[?&;](?:" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=)(?P<value>[^&#;\s\"'<>]+)",
    re.IGNORECASE,
)


_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdrifxXeEgGc]")


def redact_text(text: str, *, keep_placeholders: bool = False) -> str:
    """``text`` with every URL's user-info and every secret query value replaced by ``***``.

    ``keep_placeholders``: leave ``%s``-style values alone (a log format string
    whose arguments are redacted on their own).
    """
    if "@" not in text and "=" not in text:
        return text  # the common case: nothing that could hold a credential

    def query(m: re.Match[str]) -> str:
        if keep_placeholders and _PLACEHOLDER.fullmatch(m["value"]):
            return m[0]
        return f"{m['lead']}{MASK}"

    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _QUERY_SECRET.sub(query, text)


def redact_url(url: str) -> str:
    """One URL as lower roles see it: ``rtsp://***@host/path`` (secret query values masked too)."""
    return redact_text(url)


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return redact_text(arg)
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = str(arg)  # an exception or an object whose str() may hold a URL
    redacted = redact_text(text)
    return arg if redacted == text else redacted


_TRACEBACKS = logging.Formatter()


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a log record in place (message and arguments), keeping its shape.

    Arguments stay a tuple of the same length, so formatters that unpack them
    (uvicorn's access formatter reads ``client, method, path, version, status``)
    keep working.
    """
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text: a traceback's exception message is masked like the rest.
        record.exc_text = redact_text(_TRACEBACKS.formatException(record.exc_info))
    args = record.args
    if isinstance(record.msg, str):
        record.msg = redact_text(record.msg, keep_placeholders=bool(args))
    if isinstance(args, tuple):
        record.args = tuple(_redact_arg(a) for a in args)
    elif isinstance(args, dict):
        record.args = {k: _redact_arg(v) for k, v in args.items()}
    if record.args:
        # A secret split across format and argument ("?token=%s", secret) shows only once joined.
        try:
            joined = record.getMessage()
        except (TypeError, ValueError, KeyError):
            return record  # a broken format string: logging reports it as usual
        redacted = redact_text(joined)
        if redacted != joined:
            record.msg, record.args = redacted, ()
    return record


class RedactingFilter(logging.Filter):
    """A logging filter for handlers that must redact on their own (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_installed = False
_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Redact every log record this process creates, from any logger (idempotent).

    A record factory rather than a handler filter: handlers come and go
    (uvicorn configures its own when a server starts), the factory sees them all.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
