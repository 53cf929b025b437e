"""`framewarden serve --demo`: what a newcomer sees first must work, key included."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import free_port, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_channel_goes_live_and_raises_an_alert(tmp_path: Path) -> None:
    env = {**os.environ, "FRAMEWARDEN_DATA_DIR": str(tmp_path / "data")}
    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "framewarden", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        found: dict[str, str] = {}

        def key_printed() -> bool:
            match = re.search(r"\b(fw_[0-9a-f]{12}_[A-Za-z0-9_-]+)", log.read_text())
            if match:
                found["key"] = match.group(1)
            assert proc.poll() is None, log.read_text()[-3000:]
            return bool(match)

        assert wait_until(key_printed, 60), log.read_text()[-3000:]
        headers = {"Authorization": f"Bearer {found['key']}"}
        url = f"http://127.0.0.1:{port}"

        def demo_alert() -> bool:
            try:
                reply = httpx.get(f"{url}/v1/alerts", params={"channel": "demo"}, headers=headers)
                items = reply.json()["items"]
            except httpx.HTTPError:
                return False
            return any(a["top_label"] == "Blocklisted Text" for a in items)

        # The phrase is on screen from 6 s to 10 s of the 12 s clip.
        assert wait_until(demo_alert, 60, 0.5), log.read_text()[-3000:]
        channel = httpx.get(f"{url}/v1/channels/demo", headers=headers).json()
        assert channel["state"] == "live"
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, log.read_text()[-3000:]
