"""SRT ingest through the system FFmpeg: ``srt://`` in, MPEG-TS on a pipe out, read by PyAV.

The FFmpeg inside PyAV's wheel is built without libsrt; Debian's ``ffmpeg``
has it.  The relay runs that binary with ``-c copy`` (no decoding, no
encoding: a few percent of a core) and PyAV demuxes its standard output, so
everything after the socket is the same code as for every other protocol.
Why a relay and not a Python SRT binding: PyPI has no maintained libsrt
binding (its "srt" packages parse subtitles; pylibsrtp is SRTP), and a
separate process also keeps a libsrt crash out of the server.

The URL is validated key by key and rebuilt from the parsed parts; the
command is an argv list (never a shell string).  FFmpeg's stderr becomes the
failure reason, with the passphrase blanked.  Closing or aborting the relay
kills the process, which ends a blocked pipe read at once.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO
from urllib.parse import parse_qsl, urlencode, urlsplit

from framewarden.errors import InputError, SourceTimeoutError, UnsupportedInputError
from framewarden.media.live_options import redact_text, redact_url

log = logging.getLogger(__name__)

SRT_MODES = ("caller", "listener", "rendezvous")
_STDERR_LINES = 20
_LIBSRT_PREFIX = re.compile(r"^\d\d:\d\d:\d\d\.\d+/SRT:\S+ ")  # libsrt's own log timestamp
_KNOWN_FAILURES = (
    ("matches no streams", "no video stream"),
    ("Incorrect passphrase", "authentication refused: wrong or missing SRT passphrase"),
    ("BADSECRET", "authentication refused: wrong or missing SRT passphrase"),
    ("UNSECURE", "authentication refused: the peer requires an SRT passphrase"),
    ("Connection refused", "connection refused"),
)


def _int_in(low: int, high: int) -> Callable[[str], str]:
    def check(raw: str) -> str:
        value = int(raw)  # ValueError -> refused below
        if not low <= value <= high:
            raise ValueError(f"must be within {low}..{high}")
        return str(value)

    return check


def _choice(*allowed: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return raw

    return check


def _passphrase(raw: str) -> str:
    if not 10 <= len(raw) <= 79:  # the SRT specification's bounds
        raise ValueError("must be 10 to 79 characters")
    return raw


def _printable(raw: str) -> str:
    if not raw.isprintable() or len(raw) > 512:
        raise ValueError("must be printable, at most 512 characters")
    return raw


# The SRT URL options framewarden passes on (FFmpeg's names); every other key is refused.
SRT_OPTIONS: dict[str, Callable[[str], str]] = {
    "mode": _choice(*SRT_MODES),
    "passphrase": _passphrase,
    "pbkeylen": _choice("0", "16", "24", "32"),
    "latency": _int_in(0, 10_000_000),  # microseconds
    "rcvlatency": _int_in(0, 10_000_000),
    "peerlatency": _int_in(0, 10_000_000),
    "connect_timeout": _int_in(0, 120_000),  # milliseconds
    "listen_timeout": _int_in(-1, 3_600_000_000),  # microseconds
    "peer_idle_timeout": _int_in(0, 3_600_000_000),
    "streamid": _printable,
    "transtype": _choice("live"),
}


@dataclass(frozen=True, slots=True)
class SrtUrl:
    """A validated SRT URL: host, port and known options only."""

    host: str
    port: int
    options: tuple[tuple[str, str], ...]

    @property
    def mode(self) -> str:
        return dict(self.options).get("mode", "caller")

    @property
    def passphrase(self) -> str:
        return dict(self.options).get("passphrase", "")

    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = urlencode(self.options)
        return f"srt://{host}:{self.port}" + (f"?{query}" if query else "")


def parse_srt_url(source: str) -> SrtUrl:
    """Check an ``srt://host:port?opt=v`` URL; raise :class:`InputError` naming what is wrong."""
    shown = redact_url(source)
    try:
        parts = urlsplit(source)
        port = parts.port
    except ValueError:
        raise InputError(shown, "not a valid SRT URL (want srt://host:port?options)") from None
    if parts.scheme.lower() != "srt":
        raise InputError(shown, "not an srt:// URL")
    if parts.username or parts.password or parts.path not in ("", "/"):
        raise InputError(shown, "an SRT URL has no user, password or path (use passphrase=, streamid=)")
    if port is None or port == 0:
        raise InputError(shown, "an SRT URL needs a port")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise InputError(shown, "cannot read the SRT options (want key=value&...)") from None
    options: dict[str, str] = {}
    for key, raw in pairs:
        check = SRT_OPTIONS.get(key)
        if check is None:
            known = ", ".join(sorted(SRT_OPTIONS))
            raise InputError(shown, f"unsupported SRT option {key!r} (supported: {known})")
        if key in options:
            raise InputError(shown, f"SRT option {key!r} given twice")
        try:
            options[key] = check(raw)
        except ValueError as exc:
            value = "***" if key == "passphrase" else repr(raw)
            raise InputError(shown, f"SRT option {key}={value}: {exc}") from None
    host = parts.hostname or ""
    if not host and options.get("mode", "caller") != "listener":
        raise InputError(shown, "an SRT caller needs a host to call")
    return SrtUrl(host or "0.0.0.0", port, tuple(options.items()))


def ffmpeg_binary() -> str:
    """The system ``ffmpeg`` (with libsrt), or an error saying how to install it."""
    found = shutil.which("ffmpeg")
    if found is None:
        raise UnsupportedInputError("srt://", "SRT needs the system ffmpeg (scripts/install-system-deps.sh)")
    return found


def relay_command(srt: SrtUrl, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """The relay's argv: SRT in, the first video stream copied out as MPEG-TS on stdout."""
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-fflags", "nobuffer", "-probesize", str(512 * 1024), "-analyzeduration", "500000",
        "-i", srt.url(),
        "-map", "0:v:0", "-c", "copy",
        "-f", "mpegts", "-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0",
        "pipe:1",
    ]  # fmt: skip


class ListenTimeoutError(SourceTimeoutError):
    """A listener heard no publisher within its wait: nothing failed, so listen again at once."""

    retry_at_once = True


class SrtRelay:
    """One FFmpeg relay process: start, read ``stdout``, then ``close()`` (or ``abort()``)."""

    def __init__(self, source: str, *, timeout_s: float) -> None:
        self.srt = parse_srt_url(source)
        self.shown = redact_url(source)
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._first_byte = threading.Event()
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._timed_out = False

    @property
    def stdout(self) -> IO[bytes]:
        assert self._proc is not None and self._proc.stdout is not None, "relay not started"
        return self._proc.stdout

    def start(self) -> SrtRelay:
        argv = relay_command(self.srt, ffmpeg=ffmpeg_binary())
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
        )
        self._spawn(self._collect_stderr)
        self._spawn(self._watch_open)
        return self

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"fw-srt-{target.__name__}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _collect_stderr(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        for raw in proc.stderr:
            line = redact_text(raw.decode("utf-8", "replace").strip(), self.srt.passphrase, self.srt.url())
            if line:
                self._stderr.append(line)
                log.debug("%s: ffmpeg: %s", self.shown, line)

    def _watch_open(self) -> None:
        """No data within the open timeout (nobody to call, no publisher calling): end the relay."""
        if not self._first_byte.wait(self.timeout_s) and not self._closed.is_set():
            self._timed_out = True
            self.abort()

    def mark_data(self) -> None:
        """The reader got its first bytes: the open watchdog stands down."""
        self._first_byte.set()

    def failure(self) -> InputError | None:
        """Why the relay ended (None while it runs, or when it was closed on purpose)."""
        proc = self._proc
        if proc is None or self._closed.is_set():
            return None
        if self._timed_out:
            if self.srt.mode == "listener":
                return ListenTimeoutError(self.shown, f"no SRT publisher called within {self.timeout_s:g} s")
            return SourceTimeoutError(self.shown, f"no SRT data within {self.timeout_s:g} s")
        try:  # at the end of its output the process is exiting: give it a moment
            code = proc.wait(1.0)
        except subprocess.TimeoutExpired:
            return None
        for thread in self._threads:  # the stderr reader finishes with the process
            if thread.name.endswith("_collect_stderr"):
                thread.join(1.0)
        reason = self.reason()
        if reason == "no video stream":
            return UnsupportedInputError(self.shown, reason)
        return InputError(self.shown, f"SRT relay ended (exit {code}): {reason}")

    def reason(self) -> str:
        """FFmpeg's last words, put plainly where they are known (already redacted)."""
        lines = [_LIBSRT_PREFIX.sub("", line) for line in self._stderr]
        text = " | ".join(lines[-3:]) if lines else "no message from ffmpeg"
        for needle, plain in _KNOWN_FAILURES:
            if any(needle in line for line in lines):
                return f"{plain} ({text})" if needle != "matches no streams" else plain
        return text

    def abort(self) -> None:
        """Kill the process from any thread: a read blocked on its pipe ends at once."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    def close(self) -> None:
        self._closed.set()
        self._first_byte.set()
        self.abort()
        proc = self._proc
        if proc is None:
            return
        deadline = time.monotonic() + 5.0
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, deadline - time.monotonic()))
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
