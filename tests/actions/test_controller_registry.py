"""Named controllers from settings: the only controllers a channel can get."""

from __future__ import annotations

from pathlib import Path

import pytest

from framewarden.actions.controllers import ControllerError, ControllerRegistry, UnknownControllerError
from framewarden.config import Settings
from framewarden.errors import ConfigError
from tests.actions.test_controllers import _Recorder, http_server

__all__ = ["http_server"]  # the fixture, shared with test_controllers


def registry(**controllers: dict[str, object]) -> ControllerRegistry:
    return ControllerRegistry.from_settings(Settings(controllers=controllers, port=8080))


def test_controllers_are_built_by_name(http_server: tuple[str, type[_Recorder]]) -> None:
    base, handler = http_server
    reg = registry(edge={"type": "http", "url": base + "/stop/{stream}", "headers": {"X-Token": "t0k"}})
    assert reg.names() == ["edge"] and "edge" in reg
    reg.build("edge", source="rtmp://h/live/cam1").stop("cam1")
    assert handler.calls[0][:2] == ("POST", "/stop/cam1") and handler.calls[0][2]["X-Token"] == "t0k"
    assert reg.build(None, source="rtmp://h/live/cam1").kind == "null"


def test_command_controllers_come_only_from_settings(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    reg = registry(local={"type": "command", "argv": ["touch", str(marker)]})
    reg.build("local", source="rtmp://h/live/a").stop("a")
    assert marker.exists()  # the operator's command runs; a client can only name it


def test_unknown_name_is_a_clear_config_error() -> None:
    with pytest.raises(UnknownControllerError, match=r"unknown stream controller 'nope'.*defined: edge"):
        registry(edge={"type": "null"}).build("nope", source="")


@pytest.mark.parametrize(
    ("controllers", "message"),
    [
        ({"bad name!": {"type": "null"}}, "a name must match"),
        ({"x": {"type": "teleport"}}, "controllers.x"),
        ({"x": {"type": "nginx_rtmp", "control_url": "http://169.254.169.254/c"}}, "denied by network_deny"),
        ({"x": {"type": "http", "url": "http://127.0.0.1:8080/v1/keys"}}, "framewarden's own API"),
    ],
)
def test_bad_settings_entries_stop_start_up(controllers: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ControllerRegistry.from_settings(Settings(controllers=controllers, port=8080))


def test_rendered_urls_are_checked_before_each_call() -> None:
    # The host comes from the channel name: only known once rendered.
    reg = registry(tpl={"type": "http", "url": "http://{channel}/latest/meta-data/"})
    with pytest.raises(ControllerError, match="denied by network_deny"):
        reg.build("tpl", source="").stop("169.254.169.254")


def test_controller_errors_mask_credentials() -> None:
    reg = registry(edge={"type": "http", "url": "http://user:pw@127.0.0.1:1/stop?token=s3cr3t"})
    with pytest.raises(ControllerError) as info:
        reg.build("edge", source="").stop("c1")
    assert "s3cr3t" not in str(info.value) and "user:pw" not in str(info.value)
