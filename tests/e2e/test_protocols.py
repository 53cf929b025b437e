"""Every promised live protocol end to end: real ``framewarden serve``, real publishers and servers.

For each of RTMP, HLS, RTSP, SRT (framewarden calling) and SRT (framewarden
listening), one test: the channel goes ``live``, results are recorded, a
phrase burnt into the video alerts, killing the publisher shows
``reconnecting`` promptly (the stall detector or the protocol's end of
stream, well before the 10 s read timeout), and a restarted publisher makes
the channel ``live`` again.  One server and one clip serve all of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.e2e.harness import ClipSpec, encode_clip, free_port, wait_until
from tests.e2e.protocols import PROTOCOLS, make_feed, missing_tools
from tests.e2e.test_serve import BANNED, FW, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
_MISSING = missing_tools()
if _MISSING:  # the install script provides them; a broken machine fails loudly, never skips
    raise RuntimeError(f"protocol e2e tests need {', '.join(_MISSING)} (scripts/install-system-deps.sh)")
NOTICE_S = 6.0  # a dropped publisher must show before this (the read timeout alone takes 10 s)


@pytest.fixture(scope="module")
def banned_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of 640x360 at 15 fps, 1 s GOP, the banned phrase burnt in (long enough for one RTSP session)."""
    spec = ClipSpec(source="testsrc2", width=640, height=360, fps=15, gop_s=1.0, duration_s=20, text=BANNED)
    return encode_clip(spec, tmp_path_factory.mktemp("clips") / "banned-20s.flv")


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One ``framewarden serve`` (OCR with a blocklist) for all protocols; events read over the WebSocket."""
    tmp = tmp_path_factory.mktemp("serve")
    config = tmp / "framewarden.toml"
    config.write_text(
        'analyzers = ["ocr_text"]\nalert_escalation_s = 0\n'
        f'[analyzer_options.ocr_text]\nblocklist = ["{BANNED.lower()}"]\ninterval_s = 0.5\n'
    )
    env = {**os.environ, "FRAMEWARDEN_DATA_DIR": str(tmp / "data"), "FRAMEWARDEN_CONFIG": str(config)}
    created = subprocess.run(
        [*FW, "keys", "create", "--role", "admin", "--json"], env=env, capture_output=True, check=True
    )
    key = json.loads(created.stdout)["key"]
    port, log = free_port(), tmp / "serve.log"
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
                    event = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return
                event["_received"] = time.time()
                srv.events.put(event)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert wait_until(lambda: not srv.events.empty(), 10)  # the hello
    rule = {"id": "no-banned-text", "channel_pattern": "^proto-", "sample_interval_s": 0.5,
            "labels": {"Offensive Text": 50}}  # fmt: skip
    assert srv.api("POST", "/v1/rules", json=rule).status_code == 201
    yield srv
    stop.set()
    proc.terminate()
    try:
        assert proc.wait(30) == 0, f"SIGTERM must end serve cleanly; log:\n{log.read_text()[-3000:]}"
    finally:
        if proc.poll() is None:
            proc.kill()
    listener.join(5)


def _state_is(channel: str, state: str):  # type: ignore[no-untyped-def]
    return lambda e: (
        e["kind"] == "channel_state" and e["channel"] == channel and e["payload"].get("state") == state
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_protocol_live_alert_drop_and_return(
    protocol: str, serve: Server, banned_clip: Path, tmp_path: Path
) -> None:
    name = f"proto-{protocol}"
    feed = make_feed(protocol, banned_clip, tmp_path)
    try:
        if not feed.channel_first:
            feed.start()
        assert (
            serve.api("POST", "/v1/channels", json={"name": name, "source_url": feed.source}).status_code
            == 201
        )
        if feed.channel_first:
            feed.start()
        t0 = time.time()
        serve.wait_event(_state_is(name, "live"), 30)
        t_live = time.time() - t0
        alert = serve.wait_event(lambda e: e["kind"] == "alert" and e["channel"] == name, 45)
        assert alert["payload"]["top_label"] == "Blocklisted Text"
        results = serve.api("GET", f"/v1/channels/{name}/results").json()["items"]
        assert results, "analyzed frames are recorded"
        # The publisher crashes: noticed within seconds, not at the 10 s read timeout.
        killed = time.time()
        feed.kill()
        lost = serve.wait_event(_state_is(name, "reconnecting"), 20)
        noticed = lost["_received"] - killed
        assert noticed < NOTICE_S, f"{protocol}: reconnecting after {noticed:.1f} s ({lost['payload']})"
        assert "passphrase" not in lost["payload"]["reason"] or "***" in lost["payload"]["reason"]
        # No false "live" from a stale source while the publisher is away (HLS keeps its old playlist).
        with pytest.raises(AssertionError):
            serve.wait_event(_state_is(name, "live"), 2.0)
        restarted = time.time()
        feed.start()
        serve.wait_event(_state_is(name, "live"), 40)
        print(f"{protocol}: live after {t_live:.1f} s, reconnecting {noticed:.1f} s after the kill, "
              f"live {time.time() - restarted:.1f} s after the restart")  # fmt: skip
    finally:
        with contextlib.suppress(httpx.HTTPError):  # cleanup; a hung server fails the module's teardown
            serve.api("DELETE", f"/v1/channels/{name}")
        feed.close()
