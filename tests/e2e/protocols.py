"""Publishers and servers for every live protocol framewarden ingests, for tests and benchmarks.

One interface, :class:`Feed`: ``start()`` brings the publisher (and, for HLS,
the HTTP server) up, ``kill()`` drops it hard as a crashed encoder would,
``source`` is the URL a channel reads, ``published_at`` is the wall clock of
media time 0 of the current run.  All on loopback, free ports, temp folders:

* ``rtmp``: nginx-rtmp (from :mod:`tests.e2e.harness`) + an FFmpeg publisher;
* ``hls``: FFmpeg's HLS muxer writing 1 s segments into a folder that a
  threaded HTTP server serves;
* ``rtsp``: GStreamer's RTSP server (``rtsp_server.py`` under the system
  python3), playing the clip to each client;
* ``srt-caller``: FFmpeg listens as the SRT publisher, framewarden calls it;
* ``srt-listener``: framewarden listens, FFmpeg calls in to publish.

Every SRT feed uses a passphrase, so encryption is always exercised.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import subprocess
import threading
import time
from pathlib import Path

from tests.e2e.harness import NginxRtmp, Publisher, _stop_process, free_port, wait_until

PROTOCOLS = ("rtmp", "hls", "rtsp", "srt-caller", "srt-listener")
SYSTEM_PYTHON = "/usr/bin/python3"  # python3-gi + GstRtspServer live in Debian's interpreter
RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")
SRT_PASSPHRASE = "framewarden-e2e-secret"
HLS_SEGMENT_S = 1


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ffmpeg_push(clip: Path, out: list[str]) -> list[str]:
    return ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(clip),
            "-an", "-c", "copy", *out]  # fmt: skip


class Feed:
    """A publisher for one protocol; subclasses fill in ``_launch`` and ``source``."""

    protocol = ""

    def __init__(self, clip: Path, root: Path) -> None:
        self.clip = clip
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.published_at = 0.0
        self.starts = 0
        root.mkdir(parents=True, exist_ok=True)

    @property
    def source(self) -> str:
        raise NotImplementedError

    @property
    def channel_first(self) -> bool:
        """True when framewarden must be listening before the publisher can start."""
        return False

    def _launch(self) -> subprocess.Popen[bytes]:
        raise NotImplementedError

    def _log(self) -> object:
        self.starts += 1
        return (self.root / f"{self.protocol}-{self.starts}.log").open("wb")

    def start(self, timeout_s: float = 20.0) -> Feed:
        self.published_at = time.time()
        self.proc = self._launch()
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        """Default: the process is still running a moment later."""
        time.sleep(0.2)
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.protocol} publisher exited: {self.log_tail()}")

    def log_tail(self) -> str:
        logs = sorted(self.root.glob(f"{self.protocol}-*.log"))
        return logs[-1].read_text(errors="replace")[-2000:] if logs else ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def close(self) -> None:
        _stop_process(self.proc)


class RtmpFeed(Feed):
    protocol = "rtmp"

    def __init__(self, clip: Path, root: Path, name: str = "cam") -> None:
        super().__init__(clip, root)
        self.name = name
        self.nginx = NginxRtmp(root / "nginx").start()
        self._pub = Publisher(clip, self.nginx.rtmp_url(name), log_dir=root)

    @property
    def source(self) -> str:
        return self.nginx.rtmp_url(self.name)

    def start(self, timeout_s: float = 20.0) -> Feed:
        self.published_at = time.time()
        self._pub.start()
        self.proc = self._pub.proc
        if not self.nginx.wait_publishing(self.name, timeout_s):
            raise RuntimeError("RTMP publisher never appeared in nginx /stat")
        return self

    def close(self) -> None:
        self._pub.close()
        self.nginx.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Tests read no access log."""


class HttpFolder:
    """A threaded HTTP server for one folder on a free loopback port."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HlsFeed(Feed):
    protocol = "hls"

    def __init__(self, clip: Path, root: Path) -> None:
        super().__init__(clip, root)
        self.folder = root / "www" / "live"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.http = HttpFolder(root / "www")

    @property
    def playlist(self) -> Path:
        return self.folder / "index.m3u8"

    @property
    def source(self) -> str:
        return f"{self.http.url}/live/index.m3u8"

    def _launch(self) -> subprocess.Popen[bytes]:
        for old in self.folder.iterdir():  # a restarted encoder starts a new playlist
            old.unlink()
        segments = str(self.folder / f"s{self.starts + 1}-%05d.ts")
        out = ["-f", "hls", "-hls_time", str(HLS_SEGMENT_S), "-hls_list_size", "4",
               "-hls_flags", "delete_segments+temp_file+independent_segments",
               "-hls_segment_filename", segments, str(self.playlist)]  # fmt: skip
        return subprocess.Popen(_ffmpeg_push(self.clip, out), stdout=subprocess.DEVNULL, stderr=self._log())  # type: ignore[arg-type]

    def _wait_ready(self, timeout_s: float) -> None:
        if not wait_until(lambda: self.playlist.is_file() or not self.running, timeout_s) or not self.running:
            raise RuntimeError(f"HLS writer wrote no playlist: {self.log_tail()}")

    def close(self) -> None:
        super().close()
        self.http.close()


class RtspFeed(Feed):
    protocol = "rtsp"

    def __init__(self, clip: Path, root: Path, credentials: str = "") -> None:
        super().__init__(clip, root)
        self.port = free_port()
        self.credentials = credentials
        self.playing: list[float] = []  # wall clock of each client pipeline's start
        self._reader: threading.Thread | None = None

    @property
    def source(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/clip"

    def _launch(self) -> subprocess.Popen[bytes]:
        argv = [SYSTEM_PYTHON, str(RTSP_SERVER), str(self.port), "/clip", str(self.clip)]
        if self.credentials:
            argv.append(self.credentials)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._log())  # type: ignore[arg-type]
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode().strip()
                if line == "READY":
                    ready.set()
                elif line.startswith("PLAYING "):
                    self.playing.append(float(line.split()[1]))
                    self.published_at = self.playing[-1]

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        self._ready = ready
        return proc

    def _wait_ready(self, timeout_s: float) -> None:
        if not wait_until(lambda: self._ready.is_set() or not self.running, timeout_s) or not self.running:
            raise RuntimeError(f"RTSP server did not start: {self.log_tail()}")


class SrtCallerFeed(Feed):
    """framewarden calls (the default mode); the publisher listens."""

    protocol = "srt-caller"

    def __init__(self, clip: Path, root: Path) -> None:
        super().__init__(clip, root)
        self.port = free_udp_port()

    @property
    def source(self) -> str:
        return f"srt://127.0.0.1:{self.port}?passphrase={SRT_PASSPHRASE}&latency=120000"

    def _launch(self) -> subprocess.Popen[bytes]:
        url = f"srt://127.0.0.1:{self.port}?mode=listener&passphrase={SRT_PASSPHRASE}&latency=120000"
        return subprocess.Popen(
            _ffmpeg_push(self.clip, ["-f", "mpegts", url]),
            stdout=subprocess.DEVNULL,
            stderr=self._log(),  # type: ignore[arg-type]
        )


class SrtListenerFeed(Feed):
    """framewarden listens (``mode=listener``); the publisher calls in, retrying until it is heard."""

    protocol = "srt-listener"

    def __init__(self, clip: Path, root: Path) -> None:
        super().__init__(clip, root)
        self.port = free_udp_port()

    @property
    def channel_first(self) -> bool:
        return True

    @property
    def source(self) -> str:
        return f"srt://127.0.0.1:{self.port}?mode=listener&passphrase={SRT_PASSPHRASE}&latency=120000"

    def _launch(self) -> subprocess.Popen[bytes]:
        url = f"srt://127.0.0.1:{self.port}?passphrase={SRT_PASSPHRASE}&latency=120000&connect_timeout=1000"
        return subprocess.Popen(
            _ffmpeg_push(self.clip, ["-f", "mpegts", url]),
            stdout=subprocess.DEVNULL,
            stderr=self._log(),  # type: ignore[arg-type]
        )

    def start(self, timeout_s: float = 20.0) -> Feed:
        """A caller fails at once while nobody listens (framewarden between two sessions): retry."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.published_at = time.time()
            self.proc = self._launch()
            time.sleep(1.5)
            if self.running:
                return self
            if time.monotonic() >= deadline:
                raise RuntimeError(f"SRT caller never connected: {self.log_tail()}")


def make_feed(protocol: str, clip: Path, root: Path) -> Feed:
    feeds: dict[str, type[Feed]] = {
        "rtmp": RtmpFeed,
        "hls": HlsFeed,
        "rtsp": RtspFeed,
        "srt-caller": SrtCallerFeed,
        "srt-listener": SrtListenerFeed,
    }
    return feeds[protocol](clip, root / protocol)


def missing_tools() -> list[str]:
    """What the protocol feeds need from the system (scripts/install-system-deps.sh installs it)."""
    missing = [tool for tool in ("ffmpeg",) if shutil.which(tool) is None]
    with contextlib.suppress(OSError):
        probe = subprocess.run(
            [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
            capture_output=True,
            timeout=30,
        )
        if probe.returncode == 0:
            return missing
    return [*missing, "python3-gi + gir1.2-gst-rtsp-server-1.0"]
