"""A WebSocket client that leaves is not an error (real uvicorn as `serve` runs it, real client)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
import uvicorn
from websockets.sync.client import connect

from framewarden.api.app import create_app
from framewarden.api.runtime import Runtime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_client_closing_the_event_stream_logs_no_error(
    runtime: Runtime, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_config=None, ws="auto"
    )  # as `serve` runs it
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    caplog.set_level(logging.INFO)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        for _ in range(3):  # a few clients come and go
            with connect(f"ws://127.0.0.1:{port}/v1/events?key={keys['viewer']}") as ws:
                assert json.loads(ws.recv(timeout=10))["kind"] == "hello"
    finally:
        server.should_exit = True
        thread.join(20)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
