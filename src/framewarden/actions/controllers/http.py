"""Stop a stream with one HTTP call (a streaming server's admin API, a webhook)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import httpx

from framewarden.actions.controllers.base import ControllerError, check_reachable, render, template_values
from framewarden.netpolicy import NetworkPolicy

log = logging.getLogger(__name__)


class HttpController:
    """``method url`` with templated URL/body/headers; any status outside ``expected_status`` fails."""

    kind = "http"

    def __init__(
        self,
        url: str,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        body: str = "",
        expected_status: Sequence[int] = (200, 201, 202, 204),
        timeout_s: float = 5.0,
        source: str = "",
        policy: NetworkPolicy | None = None,
    ) -> None:
        self.url = url
        self.policy = policy
        self.method = method.upper()
        self.headers = dict(headers or {})
        self.body = body
        self.expected_status = frozenset(expected_status)
        self.timeout_s = timeout_s
        self.source = source

    def stop(self, channel: str) -> None:
        values = template_values(channel, self.source)
        url = render(self.url, values, channel=channel)
        check_reachable(self.policy, url, channel=channel)  # after rendering: {channel} may be in the host
        headers = {k: render(v, values, channel=channel) for k, v in self.headers.items()}
        content = render(self.body, values, channel=channel).encode() if self.body else None
        try:
            response = httpx.request(
                self.method, url, headers=headers, content=content, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            raise ControllerError(channel, f"{self.method} {url}: {exc!r}") from None
        if response.status_code not in self.expected_status:
            raise ControllerError(channel, f"{self.method} {url} answered HTTP {response.status_code}")
        log.info("channel %s: stop call %s %s -> %s", channel, self.method, url, response.status_code)
