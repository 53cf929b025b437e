"""Video sources against real files, a real S3 server, stalled and live servers."""

from __future__ import annotations

import contextlib
import http.server
import itertools
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from framewarden.config import Settings
from framewarden.errors import InputError, SourceTimeoutError
from framewarden.media.source import fit_within, open_video
from tests.conftest import BROKEN, VIDEOS

BIKES = VIDEOS / "bikes.mp4"  # 640x272 H.264, 250 frames at 25 fps, keyframes 0, 1.2, 3.04, 5.48 ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def ffmpeg_rgb(path: Path, width: int, height: int) -> np.ndarray:
    """First frame as the ffmpeg CLI shows it (autorotated), as RGB."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


# --- files ---------------------------------------------------------------------


def test_every_frame_of_a_file_in_order_from_zero() -> None:
    with open_video(str(BIKES)) as video:
        frames = list(video.frames(channel="cam"))
        assert video.stats.decoded == video.stats.sampled == 250
        assert video.stats.keyframes_only is False
    assert [f.seq for f in frames] == list(range(250))
    assert [f.meta["frame_number"] for f in frames] == list(range(250))
    assert [f.pts_ms for f in frames[:3]] == [0.0, 40.0, 80.0]
    assert all(b.pts_ms > a.pts_ms for a, b in itertools.pairwise(frames))
    assert frames[0].keyframe and not frames[1].keyframe
    assert frames[0].image.shape == (272, 640, 3) and frames[0].image.dtype == np.uint8
    assert {f.channel for f in frames} == {"cam"}


@pytest.mark.parametrize(
    ("max_side", "shape"),
    [(0, (272, 640, 3)), (1000, (272, 640, 3)), (320, (136, 320, 3)), (64, (27, 64, 3))],
)
def test_frames_are_scaled_in_the_decoder(max_side: int, shape: tuple[int, int, int]) -> None:
    with open_video(str(BIKES)) as video:
        frame = next(video.frames(channel="c", max_side=max_side))
    assert frame.image.shape == shape
    assert frame.source_size == (640, 272)


def test_scaled_frame_looks_like_the_full_one() -> None:
    with open_video(str(BIKES)) as video:
        full = next(video.frames(channel="c")).image.astype(float)
    with open_video(str(BIKES)) as video:
        small = next(video.frames(channel="c", max_side=320)).image.astype(float)
    reduced = full.reshape(136, 2, 320, 2, 3).mean(axis=(1, 3))
    assert np.abs(reduced - small).mean() < 6


@pytest.mark.parametrize(
    ("interval", "keyframes_only", "times_s"),
    [
        (1.0, False, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),  # keyframes every ~2.4 s: decode all, drop
        (3.0, True, [0.0, 3.04, 5.48, 9.68]),  # nearest keyframe to 0, 3, 6, 9
    ],
)
def test_sampling_by_media_time(interval: float, keyframes_only: bool, times_s: list[float]) -> None:
    with open_video(str(BIKES)) as video:
        assert video.metadata.keyframe_interval_s == pytest.approx(2.44)
        frames = list(video.frames(channel="c", sample_interval_s=interval, max_side=160))
        assert video.stats.keyframes_only is keyframes_only
        decoded = video.stats.decoded
    assert [round(f.pts_ms / 1000, 2) for f in frames] == times_s
    assert decoded == (6 if keyframes_only else 250)  # keyframes-only never decodes the rest
    assert all(f.keyframe for f in frames) or not keyframes_only


def test_keyframes_only_can_be_forced() -> None:
    with open_video(str(BIKES)) as video:
        frames = list(video.frames(channel="c", keyframes_only=True, max_side=64))
    assert len(frames) == 6 and all(f.keyframe for f in frames)


def test_frames_can_be_read_once() -> None:
    with open_video(str(BIKES)) as video:
        list(video.frames(channel="c", keyframes_only=True, max_side=32))
        with pytest.raises(RuntimeError, match="once"):
            next(video.frames(channel="c"))


def test_dash_named_file_decodes_all_frames() -> None:
    with open_video(str(BROKEN / "-video-with-dash-.mp4")) as video:
        frames = list(video.frames(channel="c"))
    assert len(frames) == 5 and frames[0].image.shape == (1, 1, 3)


@pytest.mark.parametrize(
    "path", [p for p in VIDEOS.iterdir() if p.suffix in {".webm", ".avi"}], ids=lambda p: p.name
)
def test_other_containers_and_codecs_decode(path: Path) -> None:
    with open_video(str(path)) as video:
        frames = list(video.frames(channel="c", sample_interval_s=1.0, max_side=128))
        duration_s = video.metadata.duration_ms / 1000
    assert abs(len(frames) - duration_s) <= 1.5
    assert frames[0].pts_ms == pytest.approx(0, abs=100)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_rotation_side_data_is_applied(tmp_path: Path, rotate: int) -> None:
    plain = tmp_path / "plain.mp4"
    rotated = tmp_path / f"rot{rotate}.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x96:rate=10",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv444p",
        "-qp",
        "0",
        str(plain),
    )
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v", f"rotate={rotate}", str(rotated))
    upright_w, upright_h = (96, 160) if rotate in (90, 270) else (160, 96)
    expected = ffmpeg_rgb(rotated, upright_w, upright_h).astype(int)
    with open_video(str(rotated)) as video:
        assert video.metadata.display_size == (upright_w, upright_h)
        frame = next(video.frames(channel="c"))
    assert frame.image.shape == (upright_h, upright_w, 3)
    assert frame.source_size == (upright_w, upright_h)
    assert np.abs(frame.image.astype(int) - expected).mean() < 2


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((640, 272), 0, (640, 272)),
        ((640, 272), 640, (640, 272)),
        ((640, 272), 320, (320, 136)),
        ((272, 640), 320, (136, 320)),
        ((1000, 1), 10, (10, 1)),
    ],
)
def test_fit_within(size: tuple[int, int], max_side: int, expected: tuple[int, int]) -> None:
    assert fit_within(*size, max_side) == expected


# --- S3 (a real moto server) ------------------------------------------------------


@pytest.fixture(scope="module")
def s3_settings() -> Iterator[Settings]:
    boto3 = pytest.importorskip("boto3", reason="boto3 is a dependency; missing means a broken venv")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        settings = Settings(
            s3_endpoint_url=f"http://127.0.0.1:{port}", s3_access_key_id="test", s3_secret_access_key="test"
        )
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket="videos")
        client.upload_file(str(BIKES), "videos", "in/bikes clip.mp4")
        client.put_object(Bucket="videos", Key="empty.mp4", Body=b"")
        yield settings
    finally:
        server.stop()


def test_s3_object_is_read_by_range_requests(s3_settings: Settings) -> None:
    with open_video("s3://videos/in/bikes%20clip.mp4", settings=s3_settings) as video:
        assert (video.metadata.codec, video.metadata.duration_ms) == ("h264", 10000)
        frames = list(video.frames(channel="s3", sample_interval_s=1.0, max_side=64))
    assert len(frames) == 10


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("s3://videos/missing.mp4", "no such S3 object"),
        ("s3://videos/empty.mp4", "empty S3 object"),
        ("s3://videos", "not an s3://bucket/key URL"),
    ],
)
def test_s3_errors_name_the_object(s3_settings: Settings, url: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as info:
        open_video(url, settings=s3_settings)
    assert str(info.value).startswith(url)


# --- stalls and live input -----------------------------------------------------------


@contextlib.contextmanager
def silent_tcp_server() -> Iterator[int]:
    """Accepts connections and never sends a byte."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(sock.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        sock.close()


@pytest.mark.parametrize("scheme", ["http", "rtmp", "rtsp"])
def test_silent_server_raises_timeout_not_hang(scheme: str) -> None:
    with silent_tcp_server() as port:
        started = time.monotonic()
        with pytest.raises(SourceTimeoutError) as info:
            open_video(f"{scheme}://127.0.0.1:{port}/live/x", timeout_s=1.0)
        assert time.monotonic() - started < 30  # a generous bound: the point is "returns at all"
    assert "no data within 1 s" in str(info.value)


@pytest.fixture
def ts_file(tmp_path: Path) -> Path:
    out = tmp_path / "bikes.ts"
    ffmpeg("-i", str(BIKES), "-c", "copy", "-f", "mpegts", str(out))
    return out


@contextlib.contextmanager
def http_server_that_stalls(payload: bytes, send: int) -> Iterator[str]:
    """Serves ``send`` bytes of ``payload`` (announcing all of it), then goes silent."""
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[:send])
            self.wfile.flush()
            release.wait(30)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bikes.ts"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_stream_that_stalls_mid_way_raises_timeout(tmp_path: Path) -> None:
    ts = tmp_path / "pattern.ts"  # 20 s, a keyframe every second, no index: read ahead ~9 s at open
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x96:rate=10",
        "-t",
        "20",
        "-c:v",
        "libx264",
        "-g",
        "10",
        "-f",
        "mpegts",
        str(ts),
    )
    payload = ts.read_bytes()
    with (
        http_server_that_stalls(payload, len(payload) * 3 // 4) as url,
        open_video(url, timeout_s=1.0) as video,
    ):
        frames: list[float] = []
        with pytest.raises(SourceTimeoutError, match="no data within"):
            for frame in video.frames(channel="c", max_side=32):
                frames.append(frame.pts_ms)
    assert 100 < len(frames) < 200  # about three quarters arrived, then the stall was reported


def test_live_tcp_stream_frames_carry_arrival_time(ts_file: Path) -> None:
    if shutil.which("ffmpeg") is None:  # pragma: no cover - installed by scripts/install-system-deps.sh
        pytest.fail("ffmpeg is required")
    port = free_port()
    pusher = subprocess.Popen(
        [
            "ffmpeg",
            "-v",
            "error",
            "-re",
            "-i",
            str(ts_file),
            "-t",
            "3",
            "-c",
            "copy",
            "-f",
            "mpegts",
            f"tcp://127.0.0.1:{port}?listen=1",
        ],
    )
    try:
        video = None
        for _ in range(50):  # wait for the listener
            try:
                video = open_video(f"tcp://127.0.0.1:{port}", live=True, timeout_s=5.0)
                break
            except InputError:
                time.sleep(0.1)
        assert video is not None, "ffmpeg listener never accepted"
        with video:
            started = time.time()
            frames = list(video.frames(channel="live", sample_interval_s=0.5, max_side=64))
            ended = time.time()
            assert video.live and video.stats.keyframes_only is False
    finally:
        pusher.kill()
        pusher.wait()
    assert len(frames) >= 3
    assert frames[0].pts_ms == 0.0  # live time starts at the first frame
    arrivals = [f.captured_at for f in frames]
    assert arrivals == sorted(arrivals)
    assert started - 10 < arrivals[0] and arrivals[-1] <= ended
    # -re paces at real time: later frames arrived later than the first (media time ~ wall time)
    assert arrivals[-1] - arrivals[0] > 0.5


def _gop_clip(path: Path, keyframes_s: tuple[float, ...], seconds: int) -> Path:
    keys = ",".join(f"{t:g}" for t in keyframes_s)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=10:d={seconds}",
         "-c:v", "libx264", "-g", "1000", "-sc_threshold", "0", "-force_key_frames", keys,
         "-pix_fmt", "yuv420p", "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_a_live_stream_whose_keyframes_spread_out_is_decoded_whole_from_then_on(tmp_path: Path) -> None:
    """Keyframes 1 s apart for 5 s, then 4 s apart: sampled at 1 frame/s, keyframes alone
    sufficed at first; from the first 4 s gap on, every frame is decoded so the samples stay
    1 s apart (keyframes only would have given one every 4 s)."""
    clip = _gop_clip(tmp_path / "spread.ts", (0, 1, 2, 3, 4, 8, 12, 16, 20), 24)
    with open_video(str(clip), live=True) as video:
        assert video.metadata.keyframe_interval_s == pytest.approx(1.0)  # what admission sees
        times = [f.pts_ms / 1000.0 for f in video.frames(channel="c", sample_interval_s=1.0)]
        assert not video.stats.keyframes_only
    assert times[:5] == pytest.approx([0, 1, 2, 3, 4], abs=0.05)  # keyframes only, at first
    later = [t for t in times if t >= 8.0]
    gaps = [b - a for a, b in itertools.pairwise(later)]
    assert len(later) >= 15 and max(gaps) <= 1.05  # every second again, after the one 4 s gap


def test_a_live_stream_whose_keyframes_close_up_goes_back_to_keyframes_only(tmp_path: Path) -> None:
    clip = _gop_clip(tmp_path / "close.ts", (0, 4, 8, *range(9, 20)), 20)
    with open_video(str(clip), live=True) as video:
        times = [f.pts_ms / 1000.0 for f in video.frames(channel="c", sample_interval_s=1.0)]
        decoded = video.stats.decoded
        assert video.stats.keyframes_only  # back to keyframes once they are 1 s apart again
    assert max(b - a for a, b in itertools.pairwise(times)) <= 1.05
    assert decoded < 200  # not every one of the 200 frames
