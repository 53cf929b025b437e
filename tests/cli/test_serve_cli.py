"""What `serve --demo` prints: a pasteable curl line (never wrapped), and how to get a key later."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import free_port, wait_until

pytestmark = pytest.mark.slow  # two server start-ups


def _serve_output(data_dir: Path, log: Path) -> str:
    env = {
        **os.environ,
        "FRAMEWARDEN_DATA_DIR": str(data_dir),
        "FRAMEWARDEN_ANALYZERS": '["hashlist"]',  # start fast: only the output is under test
        "COLUMNS": "",  # as under `make run` piped to a log: Rich's 80-column default
    }
    env.pop("COLUMNS")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "framewarden", "serve", "--demo", "--port", str(port)],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert wait_until(lambda: "serving on" in log.read_text() or proc.poll() is not None, 90)
    finally:
        proc.kill()  # only the start-up output is under test (tests/e2e/test_demo.py drains)
        proc.wait(30)
    return log.read_text()


def test_demo_prints_an_unwrapped_curl_line_then_says_how_to_get_a_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _serve_output(data, tmp_path / "first.log")
    assert re.search(
        r"^  try: curl -H 'Authorization: Bearer fw_[0-9a-f]{12}_[A-Za-z0-9_-]+' "
        r"http://127\.0\.0\.1:\d+/v1/alerts$",
        first,
        re.MULTILINE,
    ), first
    second = _serve_output(data, tmp_path / "second.log")
    assert "fw_" not in second.split("serving on")[0]  # no key is shown twice
    assert "API keys already exist" in second and "framewarden keys create --role admin" in second
    lines = [line for line in second.splitlines() if "already exist" in line]
    assert lines and "keys create" in lines[0], second  # one line, not wrapped
