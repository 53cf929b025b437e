"""Typed controller configs (a discriminated union on ``type``) and the factory.

The operator defines controllers in settings (``[controllers.NAME]``);
:func:`parse_controller_config` validates one and :func:`build_controller`
makes the controller, given the channel's source URL so nginx-rtmp can find
the app and stream by itself.  Channels refer to a controller by name only
(:mod:`~framewarden.actions.controllers.registry`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from framewarden.actions.controllers.base import StreamController
from framewarden.actions.controllers.command import CommandController
from framewarden.actions.controllers.http import HttpController
from framewarden.actions.controllers.nginx_rtmp import NginxRtmpController
from framewarden.actions.controllers.null import NullController
from framewarden.netpolicy import NetworkPolicy


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NullConfig(_Base):
    type: Literal["null"] = "null"


class NginxRtmpConfig(_Base):
    type: Literal["nginx_rtmp"] = "nginx_rtmp"
    control_url: str = Field(
        description="Base URL of the rtmp_control location, e.g. http://127.0.0.1:8080/control."
    )
    app: str = Field("", description="RTMP application (template); empty = parsed from the source URL.")
    stream: str = Field("", description="Stream name (template, e.g. {channel}); empty = from the source.")
    timeout_s: float = Field(5.0, gt=0, description="HTTP timeout in seconds.")
    require_dropped: bool = Field(True, description="Fail when nginx reports that no publisher was dropped.")


class HttpConfig(_Base):
    type: Literal["http"] = "http"
    url: str = Field(description="URL template: {channel}, {source}, {app}, {stream}.")
    method: Literal["GET", "POST", "PUT", "DELETE", "PATCH"] = Field("POST", description="HTTP method.")
    headers: dict[str, str] = Field(default_factory=dict, description="Header templates.")
    body: str = Field("", description="Request body template (empty = no body).")
    expected_status: list[int] = Field(
        default_factory=lambda: [200, 201, 202, 204], description="Statuses that mean success."
    )
    timeout_s: float = Field(5.0, gt=0, description="HTTP timeout in seconds.")


class CommandConfig(_Base):
    type: Literal["command"] = "command"
    argv: list[str] = Field(min_length=1, description="Program and argument templates; run without a shell.")
    timeout_s: float = Field(10.0, gt=0, description="Kill the command after this many seconds.")


ControllerConfig = Annotated[
    NullConfig | NginxRtmpConfig | HttpConfig | CommandConfig, Field(discriminator="type")
]
_ADAPTER: TypeAdapter[ControllerConfig] = TypeAdapter(ControllerConfig)


def parse_controller_config(data: object) -> ControllerConfig:
    """Validate a JSON-like dict (``{"type": "nginx_rtmp", ...}``); raises pydantic.ValidationError."""
    return _ADAPTER.validate_python(data)


def build_controller(
    config: ControllerConfig | None, *, source: str = "", policy: NetworkPolicy | None = None
) -> StreamController:
    """The controller for ``config`` (None = the do-nothing one); ``source`` is the channel URL.

    ``policy`` (the operator's network allow-list) is checked before every HTTP call.
    """
    if config is None or isinstance(config, NullConfig):
        return NullController()
    if isinstance(config, NginxRtmpConfig):
        return NginxRtmpController(
            config.control_url,
            app=config.app,
            stream=config.stream,
            source=source,
            timeout_s=config.timeout_s,
            require_dropped=config.require_dropped,
            policy=policy,
        )
    if isinstance(config, HttpConfig):
        return HttpController(
            config.url,
            method=config.method,
            headers=config.headers,
            body=config.body,
            expected_status=config.expected_status,
            timeout_s=config.timeout_s,
            source=source,
            policy=policy,
        )
    return CommandController(config.argv, timeout_s=config.timeout_s, source=source)
