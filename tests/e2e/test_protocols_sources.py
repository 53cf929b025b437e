"""Live sources as the user names them, against real local servers: options, live edge, clear reasons.

Each failure a user meets gets one line that says what is wrong (auth
refused, 404 playlist, no video stream, unsupported codec, wrong SRT
passphrase), never a traceback and never a password.
"""

from __future__ import annotations

import base64
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from framewarden.errors import InputError, UnsupportedInputError
from framewarden.media.source import open_video
from tests.e2e.harness import ClipSpec, encode_clip, free_port, wait_until
from tests.e2e.protocols import (
    HLS_SEGMENT_S,
    SRT_PASSPHRASE,
    HlsFeed,
    HttpFolder,
    RtspFeed,
    SrtCallerFeed,
    free_udp_port,
    missing_tools,
)

pytestmark = [pytest.mark.e2e]
if missing_tools():  # the install script provides them; a broken machine fails loudly, never skips
    raise RuntimeError(f"e2e tests need {', '.join(missing_tools())} (scripts/install-system-deps.sh)")
TIMEOUT_S = 8.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = ClipSpec(source="testsrc2", width=320, height=180, fps=25, gop_s=1.0, duration_s=10)
    return encode_clip(spec, tmp_path_factory.mktemp("clips") / "small.flv")


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> Iterator[tuple[Path, HttpFolder]]:
    """A folder served over HTTP: audio-only MPEG-TS, and video in a codec nobody decodes."""
    root = tmp_path_factory.mktemp("www")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=d=3", "-c:a", "aac",
         str(root / "audio.ts")],
        check=True,
    )  # fmt: skip
    # Matroska whose video track names a codec no decoder knows (same length as V_MPEG4/ISO/AVC).
    mkv = root / "h264.mkv"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(clip), "-t", "2", "-c", "copy", str(mkv)], check=True
    )
    data = mkv.read_bytes()
    assert b"V_MPEG4/ISO/AVC" in data
    (root / "odd.mkv").write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_FRAMEWARDENXX"))
    server = HttpFolder(root)
    yield root, server
    server.close()


def _first_time(source: str) -> float:
    """Absolute media time (s) of the first decoded frame."""
    with open_video(source, live=True, timeout_s=TIMEOUT_S) as video:
        return float(next(iter(video.decoded_frames())).frame.time or 0.0)


def test_hls_starts_at_the_live_edge(clip: Path, tmp_path: Path) -> None:
    """The first frame comes from the newest segment, not the oldest nor FFmpeg's default (3 from the end)."""
    feed = HlsFeed(clip, tmp_path)
    feed.start()
    try:
        assert wait_until(lambda: feed.playlist.read_text().count("#EXTINF") >= 4, 20), feed.log_tail()
        segments = [line for line in feed.playlist.read_text().splitlines() if line.endswith(".ts")]
        with av.open(str(feed.folder / segments[0])) as oldest:  # media time of the oldest segment
            oldest_s = float(
                next(oldest.demux(oldest.streams.video[0])).pts * oldest.streams.video[0].time_base
            )
        edge = _first_time(feed.source)
        assert edge >= oldest_s + (len(segments) - 1) * HLS_SEGMENT_S - 0.1, (edge, oldest_s, segments)
    finally:
        feed.close()


@pytest.mark.parametrize(
    ("path", "error", "reason"),
    [
        ("missing.m3u8", InputError, "not found (404): no such stream or playlist"),
        ("audio.ts", UnsupportedInputError, "no video stream"),
        ("odd.mkv", UnsupportedInputError, "unsupported video codec"),
    ],
)
def test_http_failures_have_a_clear_reason(
    www: tuple[Path, HttpFolder], path: str, error: type[InputError], reason: str
) -> None:
    with pytest.raises(error, match=reason.replace("(", r"\(").replace(")", r"\)")):
        open_video(f"{www[1].url}/{path}", live=True, timeout_s=TIMEOUT_S)


class _AuthHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(b"viewer:right-password").decode()
        self.send_response(200 if self.headers.get("Authorization") == expected else 401)
        self.send_header("WWW-Authenticate", 'Basic realm="live"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_http_auth_refused_without_leaking_the_password() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _AuthHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://viewer:wrong-password@127.0.0.1:{server.server_address[1]}/live.m3u8"
        with pytest.raises(InputError, match=r"authentication refused \(401\)") as info:
            open_video(url, live=True, timeout_s=TIMEOUT_S)
        assert "wrong-password" not in str(info.value) and "viewer:***@" in str(info.value)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def rtsp_auth(clip: Path, tmp_path: Path) -> Iterator[RtspFeed]:
    feed = RtspFeed(clip, tmp_path, credentials="viewer:right-password")
    yield feed.start()  # type: ignore[misc]
    feed.close()


def test_rtsp_auth_refused_then_accepted_and_udp_transport(rtsp_auth: RtspFeed) -> None:
    host = f"127.0.0.1:{rtsp_auth.port}"
    with pytest.raises(InputError, match=r"authentication refused \(401\)") as info:
        open_video(f"rtsp://viewer:nope-nope@{host}/clip", live=True, timeout_s=TIMEOUT_S)
    assert "nope-nope" not in str(info.value)
    for options in ("", "#rtsp_transport=udp&timeout=5"):
        with open_video(
            f"rtsp://viewer:right-password@{host}/clip{options}", live=True, timeout_s=TIMEOUT_S
        ) as v:
            frames = iter(v.frames(channel="t"))
            assert [next(frames).image.shape for _ in range(3)] == [(180, 320, 3)] * 3


def test_srt_wrong_passphrase_and_no_video(clip: Path, tmp_path: Path) -> None:
    feed = SrtCallerFeed(clip, tmp_path / "video").start()
    try:
        wrong = feed.source.replace(SRT_PASSPHRASE, "not-the-passphrase")
        with pytest.raises(
            InputError, match="authentication refused: wrong or missing SRT passphrase"
        ) as info:
            open_video(wrong, live=True, timeout_s=TIMEOUT_S)
        assert "not-the-passphrase" not in str(info.value) and SRT_PASSPHRASE not in str(info.value)
    finally:
        feed.close()
    # An audio-only publisher: the relay maps the first video stream, finds none, and says so.
    port = free_udp_port()
    publisher = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "sine=d=30", "-c:a", "aac",
         "-f", "mpegts", f"srt://127.0.0.1:{port}?mode=listener"],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with pytest.raises(UnsupportedInputError, match="no video stream"):
            open_video(f"srt://127.0.0.1:{port}", live=True, timeout_s=TIMEOUT_S)
    finally:
        publisher.kill()
        publisher.wait(5)


def test_srt_listener_waits_for_a_publisher_then_times_out_clearly() -> None:
    url = f"srt://127.0.0.1:{free_udp_port()}?mode=listener&passphrase={SRT_PASSPHRASE}"
    with pytest.raises(InputError, match=r"no SRT publisher called within 1\.5 s") as info:
        open_video(url + "#timeout=1.5", live=True)
    assert SRT_PASSPHRASE not in str(info.value)
