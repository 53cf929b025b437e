"""``framewarden scan`` as a user runs it: real subprocesses, real servers, SIGKILL."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BROKEN, REPO, VIDEOS, real_videos
from tests.jobs.clips import make_clip


def _cmd(*args: str) -> list[str]:
    # The real CLI, with the redbox test analyzer registered in the child process.
    return [sys.executable, "-m", "tests.jobs.fwscan", "scan", *args]


def _env(**analyzer_options: Any) -> dict[str, str]:
    env = dict(os.environ)
    if analyzer_options:
        env["FRAMEWARDEN_ANALYZER_OPTIONS"] = json.dumps({"redbox": analyzer_options})
    return env


def _scan(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cmd(*args), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def _report(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {row["input"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("cli-clips")
    first = make_clip(folder / "clip0.mp4")
    out = [first]
    for i in range(1, 4):  # same content, different names: a batch of four
        out.append(Path(shutil.copy(first, folder / f"clip{i}.mp4")))
    return out


@pytest.mark.slow
def test_every_shared_and_broken_input(tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "missing.mp4"
    broken = sorted(str(p) for p in BROKEN.iterdir() if p.suffix != ".tsv")
    proc = _scan(str(VIDEOS), *broken, str(missing), "--analyzers", "redbox", "--out", str(out), "-q")
    assert proc.returncode == 1, proc.stderr
    report = _report(out / "report.csv")
    for video in real_videos():
        assert report[str(video)]["status"] == "SUCCEEDED", report[str(video)]
    failures = {k: v for k, v in report.items() if v["status"] == "FAILED"}
    assert set(failures) == {
        str(BROKEN / "zero_bytes_result.webm"),
        str(BROKEN / "small_Mpeg4.mp4"),
        str(BROKEN / "small_png-truncated.png"),
        str(missing),
    }
    for source, row in failures.items():
        assert row["error"].startswith(f"{source}: ")
        assert f"error: {row['error']}" in proc.stderr  # each failure on stderr, one line
    assert report[str(BROKEN / "-video-with-dash-.mp4")]["status"] == "SUCCEEDED"
    # One JSON per input, written whole.
    bodies = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert sorted(b["Source"] for b in bodies) == sorted(report)


def test_labels_and_segments_end_to_end(tmp_path: Path, clips: list[Path]) -> None:
    out = tmp_path / "out"
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"{clips[0]}\n")
    proc = _scan(
        "--manifest", str(manifest), "--analyzers", "redbox", "--sample-interval", "0.5",
        "--aggregate", "segments", "--out", str(out), "--report", str(tmp_path / "r.csv"), "--evidence",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    row = _report(tmp_path / "r.csv")[str(clips[0])]
    assert row["top_labels"].startswith("Blood & Gore (90.0)")
    assert row["frames_analyzed"] == "12"
    body = json.loads((out / row["result_file"]).read_text())
    spans = {(s["ModerationLabel"]["Name"], s["StartTimestampMillis"], s["EndTimestampMillis"])
             for s in body["ModerationLabels"]}  # fmt: skip
    assert spans == {("Violence", 2000, 4000), ("Graphic Violence", 2000, 4000), ("Blood & Gore", 2000, 4000)}
    assert len(list((out / "evidence" / "flagged").glob("*.jpg"))) == 5  # 2.0, 2.52, 3.0, 3.52, 4.0 s
    assert not (out / "evidence" / "clean").exists()


class StallServer:
    """Accepts TCP connections; optionally sends HTTP headers and part of a file; then says nothing."""

    def __init__(self, partial: bytes | None) -> None:
        self.partial = partial
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.partial is not None:
                conn.recv(4096)
                length = len(self.partial) * 2  # promise more than is sent
                head = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {length}\r\n\r\n"
                conn.sendall(head.encode() + self.partial)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def stall_servers(tmp_path: Path, clips: list[Path]) -> Iterator[tuple[StallServer, StallServer]]:
    ts = tmp_path / "clip.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(clips[0]), "-c", "copy", "-f", "mpegts", str(ts)], check=True
    )
    data = ts.read_bytes()
    silent, partial = StallServer(None), StallServer(data[: len(data) // 2])
    yield silent, partial
    silent.close()
    partial.close()


@pytest.mark.slow
def test_stalled_streams_time_out(
    tmp_path: Path, clips: list[Path], stall_servers: tuple[StallServer, StallServer]
) -> None:
    silent, partial = stall_servers
    urls = [f"http://127.0.0.1:{silent.port}/a.ts", f"http://127.0.0.1:{partial.port}/b.ts"]
    started = time.monotonic()
    proc = _scan(
        *urls, str(clips[0]), "--analyzers", "redbox", "--timeout", "1", "--out", str(tmp_path / "o"), "-q"
    )
    assert time.monotonic() - started < 60  # not a hang (generous: a shared, slow machine)
    assert proc.returncode == 1
    report = _report(tmp_path / "o" / "report.csv")
    for url in urls:
        assert report[url]["status"] == "FAILED"
        assert "within 1 s" in report[url]["error"], report[url]["error"]
        assert f"error: {url}: " in proc.stderr
    assert report[str(clips[0])]["status"] == "SUCCEEDED"


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    summary = {k: v for k, v in body["Summary"].items() if "Second" not in k}
    return {**body, "Summary": summary}


def _evidence(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "evidence").rglob("*") if p.is_file())


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path: Path, clips: list[Path]) -> None:
    common = [
        "--analyzers",
        "redbox",
        "--sample-interval",
        "0",
        "--no-dedup",
        "--workers",
        "1",
        "--evidence",
        "-q",
    ]
    inputs = [str(c) for c in clips]
    reference = tmp_path / "reference"
    assert _scan(*inputs, *common, "--out", str(reference)).returncode == 0

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        _cmd(*inputs, *common, "--out", str(out)), cwd=REPO, env=_env(delay_ms=40),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("*.json")) and time.monotonic() < deadline:  # first video done
            time.sleep(0.01)
        time.sleep(0.3)  # well into the second video
        assert proc.poll() is None, "the scan finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    done_before = {json.loads(p.read_text())["Source"] for p in out.glob("*.json")}
    assert 1 <= len(done_before) < len(inputs)

    resumed = _scan(*inputs, *common, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(done_before)} already done" in resumed.stderr
    for src in inputs:
        stem = _report(reference / "report.csv")[src]["result_file"]
        assert _comparable(json.loads((out / stem).read_text())) == _comparable(
            json.loads((reference / stem).read_text())
        )
    assert _evidence(out) == _evidence(reference)  # nothing lost, nothing duplicated
    assert not list(out.rglob("*.part"))
    assert list(_report(out / "report.csv")) == inputs
