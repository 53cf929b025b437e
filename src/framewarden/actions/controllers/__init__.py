"""Stream controllers: how framewarden stops a live stream at its server.

One module per kind (nginx-rtmp control API, a generic HTTP call, a local
command, and the do-nothing controller for sources that cannot be stopped).
:func:`build_controller` turns a typed :data:`ControllerConfig` into one;
:class:`ControllerRegistry` holds the operator's named controllers, the only
ones a channel may use.
"""

from framewarden.actions.controllers.base import ControllerError, StreamController
from framewarden.actions.controllers.config import (
    CommandConfig,
    ControllerConfig,
    HttpConfig,
    NginxRtmpConfig,
    NullConfig,
    build_controller,
    parse_controller_config,
)
from framewarden.actions.controllers.null import NullController
from framewarden.actions.controllers.registry import ControllerRegistry, UnknownControllerError

__all__ = [
    "CommandConfig",
    "ControllerConfig",
    "ControllerError",
    "ControllerRegistry",
    "HttpConfig",
    "NginxRtmpConfig",
    "NullConfig",
    "NullController",
    "StreamController",
    "UnknownControllerError",
    "build_controller",
    "parse_controller_config",
]
