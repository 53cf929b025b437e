"""Stream controllers against real servers: nginx-rtmp, a local HTTP server, real commands."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from framewarden.actions.controllers import (
    CommandConfig,
    ControllerError,
    HttpConfig,
    NginxRtmpConfig,
    NullConfig,
    NullController,
    StreamController,
    build_controller,
    parse_controller_config,
)
from framewarden.actions.controllers.base import split_app_stream
from framewarden.actions.controllers.command import CommandController
from framewarden.actions.controllers.http import HttpController
from framewarden.actions.controllers.nginx_rtmp import NginxRtmpController
from tests.e2e import conftest as e2e
from tests.e2e.harness import NginxRtmp

# The real nginx-rtmp and ffmpeg fixtures, shared with tests/e2e.
rtmp_clip, nginx_rtmp, publish = e2e.rtmp_clip, e2e.nginx_rtmp, e2e.publish


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", ("", "")),
        ("rtmp://127.0.0.1:1935/live", ("live", "")),
        ("rtmp://127.0.0.1:1935/live/cam1", ("live", "cam1")),
        ("rtmp://host/live/cam1?token=x", ("live", "cam1")),
        ("rtmp://host/app/inner/cam-2/", ("app/inner", "cam-2")),
    ],
)
def test_split_app_stream(source: str, expected: tuple[str, str]) -> None:
    assert split_app_stream(source) == expected


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"type": "null"}, "null"),
        ({"type": "nginx_rtmp", "control_url": "http://127.0.0.1:8080/control"}, "nginx_rtmp"),
        ({"type": "http", "url": "http://127.0.0.1/stop/{channel}"}, "http"),
        ({"type": "command", "argv": ["true"]}, "command"),
    ],
)
def test_config_union_builds_each_kind(data: dict[str, object], kind: str) -> None:
    controller = build_controller(parse_controller_config(data), source="rtmp://h/live/x")
    assert isinstance(controller, StreamController)
    assert controller.kind == kind


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"type": "rtmp"},
        {"type": "command", "argv": []},
        {"type": "http"},
        {"type": "null", "url": "x"},
        {"type": "http", "url": "http://x", "method": "TRACE"},
    ],
)
def test_bad_config_is_rejected(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_controller_config(data)


def test_none_config_is_the_null_controller() -> None:
    controller = build_controller(None)
    assert isinstance(controller, NullController)
    controller.stop("file-channel")
    assert controller.stops == ["file-channel"]
    assert isinstance(build_controller(NullConfig()), NullController)


# --- nginx-rtmp, for real ------------------------------------------------------------


@pytest.mark.e2e
def test_nginx_controller_drops_the_publisher(nginx_rtmp: NginxRtmp, publish) -> None:  # type: ignore[no-untyped-def]
    publisher = publish("cam1")
    controller = build_controller(
        NginxRtmpConfig(control_url=nginx_rtmp.control_url), source=nginx_rtmp.rtmp_url("cam1")
    )
    controller.stop("cam1")
    assert publisher.wait_exit(10.0) is not None, "ffmpeg kept publishing after the drop"
    assert "cam1" not in nginx_rtmp.publishing()


@pytest.mark.e2e
def test_nginx_controller_uses_templates_and_leaves_other_streams(nginx_rtmp: NginxRtmp, publish) -> None:  # type: ignore[no-untyped-def]
    keep = publish("cam-10")
    drop = publish("cam-1")
    controller = NginxRtmpController(nginx_rtmp.control_url, app="live", stream="{channel}")
    controller.stop("cam-1")
    assert drop.wait_exit(10.0) is not None
    assert keep.running
    assert nginx_rtmp.publishing() == {"cam-10"}


@pytest.mark.e2e
def test_nginx_controller_fails_when_nobody_publishes(nginx_rtmp: NginxRtmp) -> None:
    controller = NginxRtmpController(nginx_rtmp.control_url, source=nginx_rtmp.rtmp_url("ghost"))
    with pytest.raises(ControllerError, match="ghost: cannot stop stream: nginx-rtmp has no publisher"):
        controller.stop("ghost")


def test_nginx_controller_fails_when_server_is_down() -> None:
    from tests.e2e.harness import free_port

    controller = NginxRtmpController(f"http://127.0.0.1:{free_port()}/control", source="rtmp://h/live/a")
    with pytest.raises(ControllerError, match=r"^a: cannot stop stream: http://127.0.0.1:\d+/control"):
        controller.stop("a")


def test_nginx_controller_needs_app_and_stream() -> None:
    controller = NginxRtmpController("http://127.0.0.1:1/control", source="rtmp://h/live")
    with pytest.raises(ControllerError, match="no RTMP app/stream"):
        controller.stop("x")


# --- a real HTTP server ----------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, dict[str, str], bytes]] = []
    status = 204

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).calls.append((self.command, self.path, dict(self.headers), body))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def http_server() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Recorder", (_Recorder,), {"calls": [], "status": 204})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_http_controller_fills_templates(http_server: tuple[str, type[_Recorder]]) -> None:
    base, handler = http_server
    config = HttpConfig(
        url=base + "/streams/{app}/{stream}?channel={channel}",
        method="POST",
        headers={"X-Channel": "{channel}"},
        body='{{"stop": "{channel}"}}',
    )
    build_controller(config, source="rtmp://h/live/cam7").stop("cam-7")
    assert len(handler.calls) == 1
    method, path, headers, body = handler.calls[0]
    assert (method, path) == ("POST", "/streams/live/cam7?channel=cam-7")
    assert headers["X-Channel"] == "cam-7"
    assert body == b'{"stop": "cam-7"}'


@pytest.mark.parametrize(("status", "expected", "ok"), [(204, [204], True), (500, [200, 204], False)])
def test_http_controller_checks_status(
    http_server: tuple[str, type[_Recorder]], status: int, expected: list[int], ok: bool
) -> None:
    base, handler = http_server
    handler.status = status
    controller = HttpController(base + "/stop/{channel}", method="DELETE", expected_status=expected)
    if ok:
        controller.stop("c1")
    else:
        with pytest.raises(ControllerError, match=f"^c1: cannot stop stream: DELETE .* HTTP {status}$"):
            controller.stop("c1")
    assert handler.calls[0][:2] == ("DELETE", "/stop/c1")


def test_http_controller_unknown_placeholder_is_a_clear_error() -> None:
    with pytest.raises(ControllerError, match="bad template"):
        HttpController("http://127.0.0.1:1/{nope}").stop("c1")


# --- real commands ------------------------------------------------------------------------


def test_command_controller_runs_argv_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "stopped.txt"
    script = "import sys; open(sys.argv[1], 'w').write(sys.argv[2] + '|' + sys.argv[3])"
    config = CommandConfig(argv=[sys.executable, "-c", script, str(out), "{channel}", "{stream}"])
    # A hostile channel name stays one argument: no shell ever sees it.
    build_controller(config, source="rtmp://h/live/s1").stop("c1; rm -rf /")
    assert out.read_text() == "c1; rm -rf /|s1"


@pytest.mark.parametrize(
    ("argv", "timeout_s", "message"),
    [
        (
            [sys.executable, "-c", "import sys; sys.stderr.write('refused'); sys.exit(3)"],
            10.0,
            "exited with 3: refused",
        ),
        ([sys.executable, "-c", "import time; time.sleep(5)"], 0.3, "timed out after 0.3 s"),
        (["/nonexistent/stop-stream"], 10.0, "command not found"),
    ],
)
def test_command_controller_failures(argv: list[str], timeout_s: float, message: str) -> None:
    with pytest.raises(ControllerError, match=message):
        CommandController(argv, timeout_s=timeout_s).stop("c1")
