"""Webhooks: a signed JSON POST, and the check a receiver runs on it.

Signature: ``X-Framewarden-Signature: sha256=<hex>`` where the hex is
HMAC-SHA256(secret, ``"<timestamp>." + body``) and ``X-Framewarden-Timestamp``
is the Unix time of sending.  Signing the timestamp with the body lets a
receiver refuse replays: :func:`verify_signature` rejects a request whose
timestamp is outside its tolerance, even when the signature is right.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote

import httpx

from framewarden.actions.notifiers.base import Message, NotificationError, WebhookTarget

SIGNATURE_HEADER = "X-Framewarden-Signature"
TIMESTAMP_HEADER = "X-Framewarden-Timestamp"
DEFAULT_TOLERANCE_S = 300.0


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> bool:
    """For receivers: True when ``body`` was signed with ``secret`` within ``tolerance_s``."""
    lower = {k.lower(): v for k, v in headers.items()}
    signature = lower.get(SIGNATURE_HEADER.lower(), "")
    try:
        timestamp = int(lower.get(TIMESTAMP_HEADER.lower(), ""))
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature, sign(secret, body, timestamp))


def render_url(template: str, message: Message) -> str:
    """The target URL with message fields filled in, each URL-encoded."""
    fields = {k: quote(v, safe="") for k, v in message.template_fields().items()}
    return template.format_map(fields)


class WebhookNotifier:
    def __init__(self, target: WebhookTarget, *, client: httpx.Client | None = None) -> None:
        self.name = target.name
        self.target = target
        self._client = client

    def send(self, message: Message) -> None:
        body = message.body_bytes()
        timestamp = int(time.time())
        headers = {
            **self.target.headers,
            "Content-Type": "application/json",
            "User-Agent": "framewarden-webhook",
            TIMESTAMP_HEADER: str(timestamp),
        }
        if self.target.secret:
            headers[SIGNATURE_HEADER] = sign(self.target.secret, body, timestamp)
        url = render_url(self.target.url, message)
        client = self._client or httpx.Client(timeout=self.target.timeout_s, follow_redirects=False)
        try:
            response = client.post(url, content=body, headers=headers, timeout=self.target.timeout_s)
        except httpx.TimeoutException:
            raise NotificationError(self.name, f"timed out after {self.target.timeout_s:g}s") from None
        except httpx.HTTPError as exc:
            raise NotificationError(self.name, f"request failed: {type(exc).__name__}: {exc}") from None
        finally:
            if self._client is None:
                client.close()
        if not response.is_success:
            raise NotificationError(self.name, f"HTTP {response.status_code} from the receiver")
