"""Drop a publisher through the nginx RTMP module's control API.

nginx-rtmp answers ``GET /control/drop/publisher?app=APP&name=STREAM`` on the
HTTP server that has ``location /control { rtmp_control all; }``.  The body is
the number of sessions dropped; ``0`` means nobody was publishing there,
which we report as a failure so an auto-stop that did nothing is visible.
"""

from __future__ import annotations

import logging

import httpx

from framewarden.actions.controllers.base import ControllerError, check_reachable, render, template_values
from framewarden.netpolicy import NetworkPolicy

log = logging.getLogger(__name__)


class NginxRtmpController:
    """Stops a channel by dropping its publisher at nginx-rtmp."""

    kind = "nginx_rtmp"

    def __init__(
        self,
        control_url: str,
        *,
        app: str = "",
        stream: str = "",
        source: str = "",
        timeout_s: float = 5.0,
        require_dropped: bool = True,
        policy: NetworkPolicy | None = None,
    ) -> None:
        self.policy = policy
        self.control_url = control_url.rstrip("/")
        self.app = app
        self.stream = stream
        self.source = source
        self.timeout_s = timeout_s
        self.require_dropped = require_dropped

    def target(self, channel: str) -> tuple[str, str]:
        """(app, stream name) for ``channel``: explicit templates, else parsed from the source URL."""
        values = template_values(channel, self.source)
        app = render(self.app, values, channel=channel) if self.app else values["app"]
        stream = render(self.stream, values, channel=channel) if self.stream else values["stream"]
        if not app or not stream:
            raise ControllerError(
                channel, "no RTMP app/stream: set app and stream, or a source like rtmp://host/app/stream"
            )
        return app, stream

    def stop(self, channel: str) -> None:
        app, stream = self.target(channel)
        url = f"{self.control_url}/drop/publisher"
        check_reachable(self.policy, url, channel=channel)
        try:
            response = httpx.get(url, params={"app": app, "name": stream}, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise ControllerError(channel, f"{url}: {exc!r}") from None
        if response.status_code != 200:
            raise ControllerError(channel, f"{url} answered HTTP {response.status_code}")
        dropped = response.text.strip()
        if self.require_dropped and dropped in {"", "0"}:
            raise ControllerError(channel, f"nginx-rtmp has no publisher on {app}/{stream}")
        log.info("channel %s: dropped %s publisher(s) of %s/%s at %s", channel, dropped, app, stream, url)
