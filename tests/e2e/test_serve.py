"""`framewarden serve` end to end: real process, real nginx-rtmp, real ffmpeg publishers.

Violations are provoked with safe content: a banned phrase burned into the
video with FFmpeg's drawtext (read by the OCR analyzer) and a frame whose PDQ
hash is put into a hash bank.  Everything is observed the way a dashboard
would: over the WebSocket and the HTTP API.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.e2e.harness import (
    ClipSpec,
    NginxRtmp,
    Publisher,
    encode_clip,
    free_port,
    next_matching,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BANNED = "BANNED WORDS HERE"  # fits a 640 px frame at 48 px (text cut at the edge is misread)
FW = [sys.executable, "-m", "framewarden"]


@dataclass
class Server:
    url: str
    key: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path
    events: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method, self.url + path, headers={"Authorization": f"Bearer {self.key}"}, timeout=30, **kw
        )

    def wait_event(self, match: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
        event = next_matching(self.events, match, timeout_s)
        if event is None:
            raise AssertionError(
                f"no matching event in {timeout_s} s; server log:\n{self.log.read_text()[-3000:]}"
            )
        return event

    def state(self, name: str) -> str:
        return str(self.api("GET", f"/v1/channels/{name}").json()["state"])


@pytest.fixture
def server(tmp_path: Path, nginx_rtmp: NginxRtmp) -> Iterator[Server]:
    data = tmp_path / "data"
    config = tmp_path / "framewarden.toml"
    config.write_text(
        'analyzers = ["ocr_text", "hashlist"]\n'
        "alert_escalation_s = 0\n"
        "[analyzer_options.ocr_text]\n"
        f'blocklist = ["{BANNED.lower()}"]\n'
        "interval_s = 0.5\n"
        # Stream controllers exist only in settings; channels name them.
        "[controllers.edge]\n"
        'type = "nginx_rtmp"\n'
        f'control_url = "{nginx_rtmp.control_url}"\n'
    )
    env = {**os.environ, "FRAMEWARDEN_DATA_DIR": str(data), "FRAMEWARDEN_CONFIG": str(config)}
    created = subprocess.run(
        [*FW, "keys", "create", "--role", "admin", "--json"], env=env, capture_output=True, check=True
    )
    key = json.loads(created.stdout)["key"]
    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [*FW, "serve", "--port", str(port)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited: {log.read_text()[-3000:]}")
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(healthy, 60), log.read_text()[-3000:]
    srv = Server(url, key, env, proc, log)
    stop = threading.Event()

    def listen() -> None:
        with connect(f"ws://127.0.0.1:{port}/v1/events?key={key}") as ws:
            while not stop.is_set():
                try:
                    srv.events.put(json.loads(ws.recv(timeout=0.5)))
                except TimeoutError:
                    continue
                except ConnectionClosed:  # the server shuts down at teardown
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert wait_until(lambda: not srv.events.empty(), 10)  # the hello
    yield srv
    stop.set()
    proc.terminate()
    try:
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 0, f"SIGTERM must end serve cleanly (exit {code}); log:\n{log.read_text()[-3000:]}"
    finally:
        if proc.poll() is None:
            proc.kill()
    listener.join(5)


@pytest.fixture(scope="module")
def text_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = ClipSpec(source="testsrc2", width=640, height=360, fps=15, gop_s=1.0, duration_s=6, text=BANNED)
    return encode_clip(spec, tmp_path_factory.mktemp("clips") / "banned.flv")


def test_banned_text_alerts_and_auto_stops_through_nginx(
    server: Server, nginx_rtmp: NginxRtmp, text_clip: Path, tmp_path: Path
) -> None:
    rule = {
        "id": "no-banned-text",
        "channel": "bad",
        "sample_interval_s": 0.5,
        "labels": {"Offensive Text": {"alert": 50, "auto_stop": 50}},
        "auto_stop_window": {"k": 1, "n": 1},
    }
    assert server.api("POST", "/v1/rules", json=rule).status_code == 201
    pub = Publisher(text_clip, nginx_rtmp.rtmp_url("bad"), log_dir=tmp_path).start()
    try:
        assert nginx_rtmp.wait_publishing("bad", 15)
        body = {
            "name": "bad",
            "source_url": nginx_rtmp.rtmp_url("bad"),
            "controller": "edge",
        }
        assert server.api("POST", "/v1/channels", json=body).status_code == 201
        server.wait_event(lambda e: e["kind"] == "channel_state" and e["payload"].get("state") == "live", 30)
        alert = server.wait_event(lambda e: e["kind"] == "alert" and e["channel"] == "bad", 60)
        assert alert["payload"]["top_label"] == "Blocklisted Text"
        server.wait_event(
            lambda e: e["kind"] == "channel_state" and e["payload"].get("state") == "stopped", 30
        )
        assert server.state("bad") == "stopped"
        # The publisher was dropped at nginx through its control API.
        assert wait_until(lambda: "bad" not in nginx_rtmp.publishing(), 15)
        alerts = server.api("GET", "/v1/alerts", params={"channel": "bad"}).json()["items"]
        assert alerts and alerts[-1]["status"] == "stream_stopped"
        history = server.api("GET", f"/v1/alerts/{alerts[-1]['id']}").json()["history"]
        assert any(h["action"] == "auto_stop" for h in history), "an auto-stop leaves an audit record"
    finally:
        pub.close()


def test_hash_bank_match_clean_stream_and_reconnect(
    server: Server, nginx_rtmp: NginxRtmp, publish: Callable[..., Publisher], rtmp_clip: Path, tmp_path: Path
) -> None:
    # A frame of the clip goes into a bank: the stream showing it must alert with the bank's label.
    frame = tmp_path / "known-bad.png"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-ss",
            "2",
            "-i",
            str(rtmp_clip),
            "-frames:v",
            "1",
            str(frame),
        ],
        check=True,
    )
    subprocess.run(
        [*FW, "banks", "add", "known-bad", "--label", "Hate Symbols", str(frame)], env=server.env, check=True
    )
    clean_clip = encode_clip(
        ClipSpec(source="testsrc2", width=640, height=360, fps=15, gop_s=1.0, duration_s=6),
        tmp_path / "clean.flv",
    )
    hashed = publish("hashed")
    clean = publish("clean", clean_clip)
    for name in ("hashed", "clean"):
        body = {"name": name, "source_url": nginx_rtmp.rtmp_url(name)}
        assert server.api("POST", "/v1/channels", json=body).status_code == 201
    alert = server.wait_event(lambda e: e["kind"] == "alert" and e["channel"] == "hashed", 60)
    assert alert["payload"]["top_label"] == "Hate Symbols"
    # The clean stream produces results and no alert.
    assert wait_until(
        lambda: len(server.api("GET", "/v1/channels/clean/results").json()["items"]) >= 3, 60
    ), server.log.read_text()[-2000:]
    assert server.api("GET", "/v1/alerts", params={"channel": "clean"}).json()["items"] == []
    # A publisher that dies and comes back: reconnecting, then live again.
    clean.kill()
    server.wait_event(
        lambda e: (
            e["kind"] == "channel_state"
            and e["channel"] == "clean"
            and e["payload"].get("state") == "reconnecting"
        ),
        30,
    )
    clean.start()
    server.wait_event(
        lambda e: (
            e["kind"] == "channel_state" and e["channel"] == "clean" and e["payload"].get("state") == "live"
        ),
        45,
    )
    assert hashed.running
