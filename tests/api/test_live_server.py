"""A real uvicorn server: the event loop stays free under database locks; access logs keep no keys."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import connect

from framewarden.api.app import create_app
from framewarden.api.runtime import Runtime
from framewarden.config import Settings
from framewarden.events import Event
from tests.e2e.harness import free_port


@dataclass
class Live:
    url: str
    ws: str
    runtime: Runtime


@pytest.fixture
def live(isolated_settings: Path) -> Iterator[Live]:
    settings = Settings(
        data_dir=isolated_settings, analyzers=["hashlist"], alert_escalation_s=0, auth_enabled=False
    )
    runtime = Runtime(settings).start()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="info", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            thread.join(0.02)
        yield Live(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", runtime)
    finally:
        server.should_exit = True
        thread.join(10)
        runtime.stop()


@contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock (as a long writer in another process would)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_events_keep_flowing_while_a_request_waits_for_the_write_lock(live: Live) -> None:
    runtime = live.runtime
    body = {"name": "cam", "source_url": "rtmp://127.0.0.1:1/live/cam", "start": False}
    assert httpx.post(live.url + "/v1/channels", json=body, timeout=10).status_code == 201

    # Know when the stop request has reached the database (and is waiting for the lock).
    entered = threading.Event()
    original = runtime.db.begin

    def spying_begin() -> AbstractContextManager[Any]:
        entered.set()
        return original()

    runtime.db.begin = spying_begin  # type: ignore[method-assign]
    outcome: dict[str, int] = {}
    with connect(live.ws + "/v1/events?kinds=notification") as ws:
        assert json.loads(ws.recv(timeout=10))["kind"] == "hello"
        with sqlite_write_lock(runtime.settings.data_dir / "framewarden.db"):
            stopper = threading.Thread(
                target=lambda: outcome.setdefault(
                    "status", httpx.post(live.url + "/v1/channels/cam/stop", timeout=60).status_code
                )
            )
            stopper.start()
            assert entered.wait(10), "the stop request never reached the database"
            runtime.bus.publish(Event("notification", {"n": 1}, channel="cam"))
            # Before the fix the handler blocked the event loop for the busy timeout (30 s).
            event = json.loads(ws.recv(timeout=5))
            assert event["kind"] == "notification" and event["payload"] == {"n": 1}
            assert stopper.is_alive(), "the request should still be waiting for the lock"
        stopper.join(30)
    assert outcome.get("status") == 200


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_access_log_never_holds_a_key(live: Live) -> None:
    collect = _Collect()
    loggers = [logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(collect)
    secret = "fw_live_SECRET123"
    try:
        with connect(f"{live.ws}/v1/events?key={secret}") as ws:
            assert json.loads(ws.recv(timeout=10))["kind"] == "hello"
        assert httpx.get(f"{live.url}/v1/channels?key={secret}", timeout=10).status_code == 401
        assert httpx.get(f"{live.url}/healthz?token={secret}", timeout=10).status_code == 200
    finally:
        for logger in loggers:
            logger.removeHandler(collect)
    logged = "\n".join(collect.lines)
    assert "/v1/events?key=***" in logged and "/v1/channels?key=***" in logged, logged
    assert secret not in logged
