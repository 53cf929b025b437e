"""The operator's stream controllers, by name: the only controllers a channel can use.

A controller can run a program on the host or call a URL with a token, so
only the operator defines one, in the server's settings::

    [controllers.edge]
    type = "nginx_rtmp"
    control_url = "http://127.0.0.1:8080/control"

The API and stored channels name a controller (``"controller": "edge"``);
nothing a client sends becomes a controller config.  Static controller URLs
are checked against the network policy when the settings load, rendered ones
again before every call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from framewarden.actions.controllers.base import StreamController
from framewarden.actions.controllers.config import (
    ControllerConfig,
    HttpConfig,
    NginxRtmpConfig,
    build_controller,
    parse_controller_config,
)
from framewarden.errors import ConfigError
from framewarden.netpolicy import NetworkPolicy

CONTROLLER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")  # room for "migrated-<channel>"


class UnknownControllerError(ConfigError):
    """A channel names a controller the settings do not define."""


class ControllerRegistry:
    """Named controller configs from settings, and the factory for a channel's controller."""

    def __init__(self, configs: Mapping[str, ControllerConfig], policy: NetworkPolicy) -> None:
        self._configs = dict(configs)
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Any) -> ControllerRegistry:
        """Validate ``settings.controllers``; a bad entry is a :class:`ConfigError` naming it."""
        policy = NetworkPolicy.from_settings(settings)
        configs: dict[str, ControllerConfig] = {}
        for name, raw in dict(getattr(settings, "controllers", {}) or {}).items():
            if not CONTROLLER_NAME.fullmatch(name):
                raise ConfigError(f"controllers.{name}: a name must match {CONTROLLER_NAME.pattern}")
            try:
                config = parse_controller_config(raw)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ConfigError(f"controllers.{name}: {where}: {first['msg']}") from None
            static = _static_url(config)
            if static:
                policy.check_url(static, what=f"controllers.{name}")
            configs[name] = config
        return cls(configs, policy)

    def names(self) -> list[str]:
        return sorted(self._configs)

    def types(self) -> dict[str, str]:
        """Each controller's type by name: nothing else (configs hold URLs, tokens, argv)."""
        return {name: self._configs[name].type for name in self.names()}

    def __contains__(self, name: object) -> bool:
        return name in self._configs

    def require(self, name: str) -> ControllerConfig:
        try:
            return self._configs[name]
        except KeyError:
            defined = ", ".join(self.names()) or "none"
            raise UnknownControllerError(
                f"unknown stream controller {name!r}: controllers are defined in the server's settings "
                f"([controllers.NAME]); defined: {defined}"
            ) from None

    def build(self, name: str | None, *, source: str) -> StreamController:
        """The controller called ``name`` for a channel reading ``source`` (None = do nothing)."""
        config = self.require(name) if name else None
        return build_controller(config, source=source, policy=self.policy)


def _static_url(config: ControllerConfig) -> str:
    """The controller's URL when it has no placeholders (else it is checked once rendered)."""
    if isinstance(config, NginxRtmpConfig):
        return config.control_url
    if isinstance(config, HttpConfig) and "{" not in config.url:
        return config.url
    return ""
