"""A private nginx-rtmp server and ffmpeg publishers for end-to-end tests and benchmarks.

Everything lives in a temporary folder (config, pid, logs, temp paths) and
listens on free loopback ports, so several test runs (and engineers) can run
side by side.  Publishers send an already-encoded clip with ``-c copy`` when
possible: encoding is the expensive part, and a 2-core machine cannot afford
one x264 per channel.  Every process started here is stopped by ``close()``.
Two analyzers with a known answer (flag everything; be slow) are registered
here too, so pipeline and API tests can provoke alerts and back-pressure.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import httpx

from framewarden.analyzers.base import AnalyzerConfig, Detection, register
from framewarden.media.frame import Frame

RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

_NGINX_CONF = """\
load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 1024; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        chunk_size 4096;
        application {app} {{
            live on;
            record off;
            drop_idle_publisher 10s;
        }}
    }}
}}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{http_port};
        location /control {{ rtmp_control all; }}
        location /stat {{ rtmp_stat all; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


T = TypeVar("T")


def next_matching(events: queue.Queue[T], match: Callable[[T], bool], timeout_s: float) -> T | None:
    """The first item of ``events`` that ``match`` accepts within ``timeout_s`` (the ones before
    it are dropped), or None when none came."""
    end = time.monotonic() + timeout_s
    while (left := end - time.monotonic()) > 0:
        try:
            event = events.get(timeout=left)
        except queue.Empty:
            return None
        if match(event):
            return event
    return None


def import_harness() -> None:
    """A Ray worker's setup hook: import this module, which registers the known-answer analyzers."""
    import tests.e2e.harness  # noqa: F401


def wait_until(predicate, timeout_s: float, interval_s: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is truthy or the time is up; returns the last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def _stop_process(proc: subprocess.Popen[bytes] | None, timeout_s: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


class NginxRtmp:
    """nginx with the RTMP module: ``rtmp_url(name)`` to publish/play, ``control_url`` to drop."""

    def __init__(self, root: Path, app: str = "live") -> None:
        self.root = root
        self.app = app
        self.rtmp_port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def control_url(self) -> str:
        return f"{self.http_url}/control"

    def rtmp_url(self, name: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{self.app}/{name}"

    def start(self, timeout_s: float = 10.0) -> NginxRtmp:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nginx.conf"
        conf.write_text(
            _NGINX_CONF.format(
                module=RTMP_MODULE,
                root=self.root,
                app=self.app,
                rtmp_port=self.rtmp_port,
                http_port=self.http_port,
            )
        )
        log = (self.root / "stderr.log").open("wb")
        self.proc = subprocess.Popen(
            ["nginx", "-p", str(self.root), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        if not wait_until(self._answers, timeout_s):
            self.close()
            raise RuntimeError(f"nginx did not start: {(self.root / 'error.log').read_text()[-2000:]}")
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {self.proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.http_url}/stat", timeout=1.0).status_code == 200
        return False

    def publishing(self) -> set[str]:
        """Names of the streams that have an active publisher (from /stat)."""
        xml = httpx.get(f"{self.http_url}/stat", timeout=2.0).text
        names: set[str] = set()
        for stream in ET.fromstring(xml).iter("stream"):
            if stream.find("publishing") is not None or any(
                c.find("publishing") is not None for c in stream.iter("client")
            ):
                name = stream.findtext("name")
                if name:
                    names.add(name)
        return names

    def wait_publishing(self, name: str, timeout_s: float = 10.0) -> bool:
        return wait_until(lambda: name in self.publishing(), timeout_s)

    def close(self) -> None:
        _stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> NginxRtmp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """What to pre-encode: a file (looped) or lavfi testsrc2, with a GOP and size."""

    source: str = "testsrc2"  # a path, or "testsrc2" for a synthetic pattern
    width: int = 1280
    height: int = 720
    fps: int = 30
    gop_s: float = 1.0
    duration_s: float = 10.0
    text: str = ""  # drawn with DejaVu (readable by an OCR analyzer)


def encode_clip(spec: ClipSpec, out: Path) -> Path:
    """Encode ``spec`` once into an H.264 FLV that publishers can send with ``-c copy``."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    if spec.source == "testsrc2":
        inputs = ["-f", "lavfi", "-i", f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}"]
    else:
        inputs = ["-stream_loop", "-1", "-i", spec.source]
    vf = [f"scale={spec.width}:{spec.height}", f"fps={spec.fps}"]
    if spec.text:
        vf.append(
            f"drawtext=fontfile={FONT}:text='{spec.text}':fontsize=48:fontcolor=white"
            ":box=1:boxcolor=black:x=40:y=40"
        )
    gop = max(1, round(spec.gop_s * spec.fps))
    tmp = out.with_suffix(".tmp.flv")
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            *inputs,
            "-t",
            str(spec.duration_s),
            "-vf",
            ",".join(vf),
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(gop),
            "-keyint_min",
            str(gop),
            "-sc_threshold",
            "0",
            "-f",
            "flv",
            str(tmp),
        ],
        check=True,
    )
    tmp.replace(out)
    return out


class Publisher:
    """One ffmpeg pushing a clip in a loop at real time to an RTMP URL; kill and restart at will."""

    def __init__(
        self,
        clip: Path,
        url: str,
        *,
        copy: bool = True,
        gop: int = 30,
        log_dir: Path | None = None,
        audio: bool = False,
    ) -> None:
        self.clip = clip
        self.audio = audio  # publish the clip's audio track too (live speech tests)
        self.url = url
        self.copy = copy
        self.gop = gop
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def command(self) -> list[str]:
        codec = (
            ["-c", "copy"]
            if self.copy
            else [
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
                "-g",
                str(self.gop),
            ]
        )
        return [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-stream_loop",
            "-1",
            "-i",
            str(self.clip),
            *([] if self.audio else ["-an"]),
            *codec,
            "-f",
            "flv",
            self.url,
        ]

    def start(self) -> Publisher:
        if self.running:
            return self
        self.starts += 1
        log = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = (self.log_dir / f"publisher-{self.url.rsplit('/', 1)[-1]}-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=log)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Hard kill (a publisher that crashes or loses its network)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def wait_exit(self, timeout_s: float) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def restart(self) -> Publisher:
        self.kill()
        return self.start()

    def close(self) -> None:
        _stop_process(self.proc)


# --- analyzers with a known answer, for pipeline and API tests ------------------------------
# Registered under "test_*" keys when this module is imported; never part of the shipped set.


class FlagAllConfig(AnalyzerConfig):
    type: Literal["test_flag_all"] = "test_flag_all"
    label: str = "Exposed Female Genitalia"
    confidence: float = 99.0


@register("test_flag_all", FlagAllConfig)
class FlagAllAnalyzer:
    """Finds ``label`` on every frame (stands in for a model that flags a stream)."""

    name = "test_flag_all"
    version = "1"

    def __init__(self, config: FlagAllConfig) -> None:
        self.config = config

    def labels(self) -> frozenset[str]:
        return frozenset({self.config.label})

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        det = Detection(self.config.label, self.config.confidence, self.name, self.version, "TEST")
        return [[det] for _ in frames]

    def close(self) -> None:
        """Nothing to release."""


class SlowConfig(AnalyzerConfig):
    type: Literal["test_slow"] = "test_slow"
    delay_s: float = 0.3


@register("test_slow", SlowConfig)
class SlowAnalyzer:
    """Finds nothing, slowly: inference that cannot keep up with a live stream."""

    name = "test_slow"
    version = "1"

    def __init__(self, config: SlowConfig) -> None:
        self.config = config
        self.calls = 0

    def labels(self) -> frozenset[str]:
        return frozenset()

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        self.calls += 1
        time.sleep(self.config.delay_s)
        return [[] for _ in frames]

    def close(self) -> None:
        """Nothing to release."""
