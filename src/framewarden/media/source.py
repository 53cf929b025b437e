"""Video sources: files, URLs, S3 objects and live streams, decoded by PyAV.

One entry point, :func:`open_video`, for everything FFmpeg can open.  The
source does the expensive decisions once, at the edge:

* which frames to decode: keyframes only (``skip_frame="NONKEY"``, non-key
  packets never reach the decoder) when the sample interval is at least the
  keyframe spacing, every frame otherwise;
* which frames to convert: only those the :class:`~framewarden.media.sampler.Sampler`
  keeps, scaled in swscale to the analyzer size, then turned upright;
* how long to wait: a stalled network read ends in :class:`SourceTimeoutError`
  (PyAV's interrupt callback plus FFmpeg's ``rw_timeout``), never a hang; a
  live source also feeds a :class:`~framewarden.media.stall.StallDetector`
  so the channel notices a dropped publisher within about a second;
* which protocol path: ``srt://`` goes through the system FFmpeg
  (:mod:`framewarden.media.srt_relay`), everything else straight to PyAV;
  options in the URL fragment (:mod:`framewarden.media.live_options`) set
  the RTSP transport, timeouts and the stall window.

At open, the first packets are read ahead (and replayed to the decoder) to
learn the keyframe spacing and the rotation without seeking, which works the
same for a file and for a live stream.
"""

from __future__ import annotations

import itertools
import logging
import statistics
import time
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import av
import av.error
import numpy as np

from framewarden.errors import (
    CorruptInputError,
    EmptyInputError,
    InputError,
    SourceTimeoutError,
    UnsupportedInputError,
)
from framewarden.media.frame import Frame
from framewarden.media.live_options import MIN_STALL_S, LiveOptions, redact_url, split_options
from framewarden.media.metadata import (
    KEYFRAMES_FOR_SPACING,
    VideoMetadata,
    build_metadata,
    container_duration_ms,
    duration_from_packets,
    keyframe_spacing,
    normalise_rotation,
)
from framewarden.media.sampler import Policy, Sampler, use_keyframes_only
from framewarden.media.srt_relay import SrtRelay
from framewarden.media.stall import StallDetector

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.packet import Packet
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

    from framewarden.config import Settings

log = logging.getLogger(__name__)

LIVE_SCHEMES = frozenset({"rtmp", "rtmps", "rtsp", "rtsps", "srt", "udp", "rtp", "tcp"})
# Read-ahead at open: enough packets to see a few GOPs, bounded for memory and latency.
PREFETCH_MAX_PACKETS = 1500
PREFETCH_MAX_BYTES = 32 * 1024 * 1024
PREFETCH_MAX_MEDIA_S = 30.0
LIVE_KEYFRAMES_FOR_SPACING = 2  # one gap: a live viewer should not wait for several GOPs
_KEYFRAMES_KEPT = 5  # the last 4 spacings: a change shows after 4 new GOPs
MAX_DECODE_ERRORS = 50  # a few broken packets are skipped, as ffmpeg does; a broken stream is not


@dataclass(slots=True)
class SourceStats:
    """Live counters, read by the pipeline for progress and metrics."""

    decoded: int = 0  # frames out of the decoder
    sampled: int = 0  # frames converted and yielded
    keyframes_only: bool = False
    packets: int = 0  # packets sent to the decoder
    decode_errors: int = 0  # packets the decoder refused (skipped)
    # Media times (s) of the last keyframes read: the stream's keyframe spacing as it is now,
    # where the metadata has only its first keyframes' (live channels are costed by it).
    keyframe_times_s: deque[float] = field(default_factory=lambda: deque(maxlen=_KEYFRAMES_KEPT))

    def keyframe_interval_s(self) -> float | None:
        """The median spacing of the last keyframes read (None before three were)."""
        times = sorted(set(tuple(self.keyframe_times_s)))  # a copy in one C call: the decoder appends
        gaps = [b - a for a, b in itertools.pairwise(times) if b > a]
        if len(gaps) < 2:
            return None
        return float(statistics.median(gaps))


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A decoder output before any conversion: cheap to drop."""

    frame: VideoFrame
    number: int  # index among decoded frames
    pts_ms: float
    captured_at: float
    keyframe: bool


@dataclass(slots=True)
class _Prefetched:
    packets: deque[tuple[Packet, float]]
    keyframe_times_s: list[float]
    rotation: int


_decode_threads = 0  # decoder threads for stored videos; 0: FFmpeg's choice (one per core)


def set_decode_threads(threads: int) -> None:
    """Decoder threads for the stored videos this process opens from now on (0: FFmpeg's
    choice).  A Ray task sets its CPU share: FFmpeg counts the node's cores, so several tasks
    on a node would each start a thread per core and oversubscribe it."""
    global _decode_threads
    _decode_threads = max(0, threads)


def open_video(
    source: str,
    *,
    live: bool | None = None,
    timeout_s: float = 10.0,
    settings: Settings | None = None,
) -> VideoSource:
    """Open a file path, an FFmpeg URL or ``s3://bucket/key``; raise an :class:`InputError` if unusable."""
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    scheme = urlsplit(source).scheme.lower() if "://" in source else ""
    # Options ride in the fragment of stream URLs only: an S3 key or a file name may contain "#".
    source, opts = split_options(source) if scheme not in {"", "file", "s3"} else (source, LiveOptions())
    shown = redact_url(source)  # errors and logs never carry a password or passphrase
    timeout_s = opts.timeout_s or timeout_s
    is_live = scheme in LIVE_SCHEMES if live is None else live
    if scheme == "srt":
        return _open_relayed(source, shown, opts, timeout_s)
    url = _resolve_url(source, scheme, settings, timeout_s)
    started = time.monotonic()
    try:
        container = av.open(
            url,
            options=_open_options(scheme, is_live, timeout_s, opts),
            timeout=(timeout_s, timeout_s),
        )
    except av.error.FFmpegError as exc:
        # Some demuxers (RTSP) turn an interrupted read into "invalid data": the clock tells.
        stalled = bool(scheme) and time.monotonic() - started >= timeout_s * 0.95
        if stalled and not isinstance(exc, av.error.HTTPError | av.error.ConnectionRefusedError):
            raise SourceTimeoutError(
                shown, f"no data within {timeout_s:g} s (stalled or unreachable)"
            ) from None
        raise map_av_error(shown, exc, timeout_s) from None
    except OSError as exc:  # pragma: no cover - PyAV maps errors to FFmpegError subclasses
        raise InputError(shown, f"cannot open: {exc}") from None
    try:
        return VideoSource(
            shown, container, live=is_live, timeout_s=timeout_s, stall_frames=opts.stall_frames
        )
    except BaseException:
        container.close()
        raise


def _open_relayed(source: str, shown: str, opts: LiveOptions, timeout_s: float) -> VideoSource:
    """``srt://`` through the system FFmpeg: its MPEG-TS output is read from a pipe."""
    relay = SrtRelay(source, timeout_s=timeout_s).start()
    try:
        container = av.open(
            f"pipe:{relay.stdout.fileno()}",
            format="mpegts",
            options=_open_options("pipe", True, timeout_s, opts),
        )
    except av.error.FFmpegError as exc:
        failure = relay.failure()
        relay.close()
        raise (failure or map_av_error(shown, exc, timeout_s)) from None
    except BaseException:
        relay.close()
        raise
    relay.mark_data()
    try:
        return VideoSource(
            shown, container, live=True, timeout_s=timeout_s, stall_frames=opts.stall_frames, relay=relay
        )
    except InputError:
        container.close()
        failure = relay.failure()
        relay.close()
        if failure is not None:
            raise failure from None
        raise
    except BaseException:
        container.close()
        relay.close()
        raise


def probe(source: str, *, timeout_s: float = 10.0, settings: Settings | None = None) -> VideoMetadata:
    """The metadata of ``source`` (opened and closed again)."""
    with open_video(source, timeout_s=timeout_s, settings=settings) as video:
        return video.metadata


def map_av_error(source: str, exc: Exception, timeout_s: float) -> InputError:
    """One-line, typed error for an FFmpeg failure on ``source``."""
    if isinstance(exc, av.error.ExitError | av.error.TimeoutError):
        return SourceTimeoutError(source, f"no data within {timeout_s:g} s (stalled or unreachable)")
    if isinstance(exc, av.error.FileNotFoundError):
        return InputError(source, "no such file")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return InputError(source, "not found (404): no such stream or playlist")
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        code = 401 if isinstance(exc, av.error.HTTPUnauthorizedError) else 403
        return InputError(source, f"authentication refused ({code}): check the user and password")
    if isinstance(exc, av.error.HTTPError):
        return InputError(source, f"HTTP error: {getattr(exc, 'strerror', None) or exc}")
    if isinstance(exc, av.error.ConnectionRefusedError):
        return InputError(source, "connection refused")
    if isinstance(exc, av.error.InvalidDataError):
        return CorruptInputError(source, "invalid data: not a video, or corrupt")
    if isinstance(exc, av.error.ProtocolNotFoundError):
        return UnsupportedInputError(source, "unsupported URL scheme")
    if isinstance(exc, av.error.EOFError):
        return CorruptInputError(source, "unexpected end of data (truncated)")
    reason = getattr(exc, "strerror", None) or str(exc)
    return InputError(source, f"cannot open: {reason}")


def _resolve_url(source: str, scheme: str, settings: Settings | None, timeout_s: float) -> str:
    if scheme == "s3":
        from framewarden.config import get_settings
        from framewarden.media.s3 import presigned_url

        return presigned_url(source, settings or get_settings(), timeout_s)
    if scheme == "file":
        source = urlsplit(source).path
    elif scheme:
        return source
    path = Path(source)
    if not path.exists():
        raise InputError(source, "no such file")
    if path.is_dir():
        raise UnsupportedInputError(source, "is a directory")
    if path.stat().st_size == 0:
        raise EmptyInputError(source, "empty file (0 bytes)")
    # "file:" + absolute path: a name like "-x.mp4" or "a:b.mp4" is never read as an option or protocol.
    return "file:" + str(path.resolve())


def _open_options(
    scheme: str, live: bool, timeout_s: float, opts: LiveOptions | None = None
) -> dict[str, str]:
    opts = opts or LiveOptions()
    options: dict[str, str] = {}
    if scheme and scheme not in {"file", "pipe"}:
        options["rw_timeout"] = str(int(timeout_s * 1_000_000))  # microseconds, per read
    if scheme in {"rtsp", "rtsps"}:
        options["rtsp_transport"] = opts.rtsp_transport
        options["timeout"] = str(int(timeout_s * 1_000_000))
    if scheme in {"http", "https"} and live and opts.live_edge:
        # HLS: start at the newest segment; FFmpeg's default is three from the end.
        options["live_start_index"] = "-1"
    if live:
        options["fflags"] = "nobuffer"
        options["flags"] = "low_delay"
        # FFmpeg's default analysis reads ~5 s of a stream before it opens: every connect and
        # reconnect of a live channel would wait that long. Half a second (and 512 KiB) is
        # enough to find an H.264 stream's parameters after its first keyframe.
        options["analyzeduration"] = "500000"
        options["probesize"] = str(512 * 1024)
    return options


class VideoSource:
    """An open video: metadata now, frames on demand.  Use as a context manager."""

    def __init__(
        self,
        source: str,
        container: InputContainer,
        *,
        live: bool,
        timeout_s: float,
        stall_frames: int = 30,
        relay: SrtRelay | None = None,
    ) -> None:
        self.source = source
        self.live = live
        self.timeout_s = timeout_s
        self.stats = SourceStats()
        # Live only: the worker asks it whether the publisher is still there.
        self.stall: StallDetector | None = (
            StallDetector(stall_frames=stall_frames, min_s=MIN_STALL_S) if live else None
        )
        self._relay = relay
        self._container = container
        self._consumed = False
        self._packets_seen = False
        self._arrivals: dict[int, float] = {}
        self._stream = self._pick_stream()
        self._configure_decoder()
        pre = self._prefetch()
        self._pending = pre.packets
        self._origin_s = self._stream_origin()
        self.metadata = build_metadata(
            container,
            self._stream,
            duration_ms=self._duration_ms(pre),
            rotation=pre.rotation,
            keyframe_interval_s=keyframe_spacing(pre.keyframe_times_s),
        )
        if self.stall is not None and self.metadata.frame_rate:
            self.stall.frame_interval_s = 1.0 / self.metadata.frame_rate

    # --- context manager ------------------------------------------------------
    def __enter__(self) -> VideoSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._pending.clear()
        self._container.close()
        if self._relay is not None:
            self._relay.close()

    def abort(self) -> None:
        """From another thread: end a read blocked on a stalled source where that is possible.

        A relayed source (SRT) is killed, so its pipe read returns at once; PyAV's own reads
        end at their timeout, and the reading thread closes the source then.
        """
        if self._relay is not None:
            self._relay.abort()

    # --- frames ---------------------------------------------------------------
    def frames(
        self,
        *,
        channel: str,
        sample_interval_s: float = 0.0,
        max_side: int = 0,
        keyframes_only: bool | None = None,
    ) -> Iterator[Frame]:
        """Upright RGB frames sampled by media time, scaled so the longer side <= ``max_side``."""
        if max_side < 0:
            raise ValueError(f"max_side must be >= 0, got {max_side}")
        # A live stream's keyframe spacing is known from its first keyframes only, and a publisher
        # may change it: re-decided as the stream goes (see decoded_frames).
        adapt = self.live and keyframes_only is None and sample_interval_s > 0
        if keyframes_only is None:
            keyframes_only = use_keyframes_only(sample_interval_s, self.metadata.keyframe_interval_s)
        # Nearest-keyframe picking holds one keyframe back: fine for files, not for live latency.
        policy: Policy = "nearest" if keyframes_only and not self.live else "first"
        sampler: Sampler[DecodedFrame] = Sampler(sample_interval_s, policy)
        decoded_frames = self.decoded_frames(
            keyframes_only=keyframes_only, adapt_to_interval_s=sample_interval_s if adapt else None
        )
        for decoded in decoded_frames:
            for kept in sampler.push(decoded.pts_ms / 1000.0, decoded):
                yield self._convert(kept, channel, max_side)
        for kept in sampler.flush():
            yield self._convert(kept, channel, max_side)

    def decoded_frames(
        self, *, keyframes_only: bool = False, adapt_to_interval_s: float | None = None
    ) -> Iterator[DecodedFrame]:
        """Every decoder output, unconverted (for callers with their own conversion, e.g. vPDQ).

        ``adapt_to_interval_s``: re-decide keyframes-only decoding at each keyframe for that
        sample interval, from the spacing read so far: full decoding from the first keyframe
        that comes later than the interval (keyframes alone would leave samples out), keyframes
        only again once the median of the last spacings fits the interval.  A switch happens at
        a keyframe, where the decoder needs nothing from before.
        """
        if self._consumed:
            raise RuntimeError(f"{self.source}: frames can be read only once per open_video()")
        self._consumed = True
        cc = self._stream.codec_context
        cc.skip_frame = "NONKEY" if keyframes_only else "DEFAULT"
        self.stats.keyframes_only = keyframes_only
        last_ms: float | None = None
        frame_ms = 1000.0 / self.metadata.frame_rate if self.metadata.frame_rate else 0.0
        arrived = time.time()
        keyframe_times = self.stats.keyframe_times_s
        for packet, arrived in self._packets():
            if packet.is_keyframe and packet.pts is not None and packet.time_base is not None:
                keyframe_times.append(float(packet.pts * packet.time_base))
                if adapt_to_interval_s is not None:
                    wanted = self._keyframes_suffice(adapt_to_interval_s, keyframes_only)
                    if wanted != keyframes_only:
                        keyframes_only = self.stats.keyframes_only = wanted
                        cc.skip_frame = "NONKEY" if wanted else "DEFAULT"
                        log.info(
                            "%s: keyframes now %.1f s apart: %s",
                            self.source, self.stats.keyframe_interval_s() or 0.0,
                            "keyframes only" if wanted else "decoding every frame",
                        )  # fmt: skip
            # Empty packets (AVI "repeat" frames, PyAV's end marker) would put the decoder in drain mode.
            if not packet.size or (keyframes_only and not packet.is_keyframe):
                continue
            for frame in self._decode(cc, packet, arrived):
                last_ms = yield from self._emit(frame, arrived, last_ms, frame_ms)
        for frame in self._decode(cc, None, arrived):  # drain the frames the decoder still holds
            last_ms = yield from self._emit(frame, arrived, last_ms, frame_ms)
        if self.stats.decoded == 0 and self.stats.decode_errors:
            raise CorruptInputError(self.source, "no frame could be decoded (corrupt video data)")

    # --- internals ------------------------------------------------------------
    def _keyframes_suffice(self, interval_s: float, now: bool) -> bool:
        """Whether keyframes alone still cover ``interval_s``: no from the first longer spacing;
        yes again when the median of the last spacings fits (so one short gap does not flip it)."""
        times = self.stats.keyframe_times_s
        if len(times) < 2:
            return now
        if now:
            return use_keyframes_only(interval_s, times[-1] - times[-2])
        return use_keyframes_only(interval_s, self.stats.keyframe_interval_s())

    def _emit(
        self, frame: VideoFrame, arrived: float, last_ms: float | None, frame_ms: float
    ) -> Generator[DecodedFrame, None, float]:
        pts_ms = self._pts_ms(frame, last_ms, frame_ms)
        captured = self._arrivals.pop(frame.pts, arrived) if frame.pts is not None else arrived
        yield DecodedFrame(frame, self.stats.decoded, pts_ms, captured, bool(frame.key_frame))
        self.stats.decoded += 1
        return pts_ms

    def _pick_stream(self) -> VideoStream:
        for stream in self._container.streams.video:
            if not (int(stream.disposition) & int(av.stream.Disposition.attached_pic)):
                return stream
        raise UnsupportedInputError(self.source, "no video stream")

    def _configure_decoder(self) -> None:
        cc = self._stream.codec_context
        if cc is None:
            codec = getattr(getattr(self._stream, "codec", None), "name", "") or "unknown"
            raise UnsupportedInputError(self.source, f"unsupported video codec ({codec}): no decoder for it")
        if self.live:
            # Frame threading delays output by one frame per thread; slices do not.
            cc.thread_type = "SLICE"
            cc.flags |= int(av.codec.context.Flags.low_delay)
            cc.thread_count = 0
        else:
            cc.thread_type = "AUTO"
            cc.thread_count = _decode_threads

    def _read(self) -> Iterator[tuple[Packet, float]]:
        stall, tb = self.stall, self._stream.time_base
        try:
            for packet in self._container.demux(self._stream):
                self._packets_seen = True
                arrived = time.time()
                if stall is not None and packet.size:
                    ts = packet.dts if packet.dts is not None else packet.pts
                    stall.packet(arrived, float(ts * tb) if ts is not None and tb is not None else None)
                yield packet, arrived
        except av.error.FFmpegError as exc:
            self._raise_relay_failure()
            stalled = isinstance(exc, av.error.ExitError | av.error.TimeoutError)
            if stalled or not self._packets_seen:
                raise map_av_error(self.source, exc, self.timeout_s) from None
            log.warning("%s: demuxing stopped early: %s", self.source, exc)
        self._raise_relay_failure()

    def _raise_relay_failure(self) -> None:
        """A relay that died ends the stream with its own reason (FFmpeg's stderr), not "ended"."""
        failure = self._relay.failure() if self._relay is not None else None
        if failure is not None:
            raise failure

    def _packets(self) -> Iterator[tuple[Packet, float]]:
        while self._pending:
            yield self._pending.popleft()
        yield from self._read()

    def _decode(self, cc: Any, packet: Packet | None, arrived: float) -> list[VideoFrame]:
        if packet is not None and packet.size:
            self.stats.packets += 1
            if packet.pts is not None:
                self._arrivals[packet.pts] = arrived
                if len(self._arrivals) > 512:  # pts the decoder never returned (skipped frames)
                    self._arrivals.clear()
        try:
            return list(cc.decode(packet))
        except av.error.EOFError:
            return []
        except av.error.FFmpegError as exc:
            if isinstance(exc, av.error.ExitError):
                raise map_av_error(self.source, exc, self.timeout_s) from None
            self.stats.decode_errors += 1
            log.debug("%s: skipped a packet the decoder refused: %s", self.source, exc)
            if self.stats.decode_errors > MAX_DECODE_ERRORS and self.stats.decoded == 0:
                raise CorruptInputError(self.source, f"undecodable video data ({exc})") from None
            return []

    def _prefetch(self) -> _Prefetched:
        """Read ahead to learn keyframe spacing and rotation; the packets are replayed later."""
        packets: deque[tuple[Packet, float]] = deque()
        key_times: list[float] = self._index_keyframe_times()
        want_keys = LIVE_KEYFRAMES_FOR_SPACING if self.live else KEYFRAMES_FOR_SPACING
        scan_keys = len(key_times) < 2
        if scan_keys:
            key_times = []
        rotation: int | None = None
        size = 0
        tb = self._stream.time_base
        cc = self._stream.codec_context
        first_t: float | None = None
        for packet, arrived in self._read():
            packets.append((packet, arrived))
            size += packet.size
            t = float(packet.pts * tb) if packet.pts is not None and tb is not None else None
            if t is not None and first_t is None:
                first_t = t
            if scan_keys and packet.is_keyframe and t is not None:
                key_times.append(t)
            if rotation is None and packet.size:  # decoded once for the rotation, then replayed
                out = self._decode(cc, packet, arrived)
                if out:
                    rotation = out[0].rotation
            done_keys = not scan_keys or len(key_times) >= want_keys
            if (rotation is not None and done_keys) or len(packets) >= PREFETCH_MAX_PACKETS:
                break
            if size >= PREFETCH_MAX_BYTES or (
                t is not None and first_t is not None and t - first_t >= PREFETCH_MAX_MEDIA_S
            ):
                break
        if rotation is None:
            rotation = self._drain_for_rotation(cc)
        cc.flush_buffers()  # decoding restarts from the first packet
        self._arrivals.clear()
        self.stats.packets = 0
        if not packets:
            raise CorruptInputError(self.source, "no video data (empty stream)")
        if rotation is None:  # read ahead to the end or the limits without one picture
            raise CorruptInputError(self.source, "no frame could be decoded (corrupt video data)")
        self.stats.decode_errors = 0
        return _Prefetched(packets, key_times, int(rotation or 0))

    def _drain_for_rotation(self, cc: Any) -> int | None:
        try:
            out = list(cc.decode(None))
        except av.error.FFmpegError:
            return None
        return out[0].rotation if out else None

    def _index_keyframe_times(self) -> list[float]:
        """Keyframe times from the container index (MP4 sample table, Matroska cues), if any."""
        tb = self._stream.time_base
        if self.live or tb is None:
            return []
        times: list[float] = []
        try:
            for entry in self._stream.index_entries:
                if entry.is_keyframe and not entry.is_discard:
                    times.append(float(entry.timestamp * tb))
                    if len(times) >= KEYFRAMES_FOR_SPACING:
                        break
        except (AttributeError, av.error.FFmpegError):
            return []
        return times

    def _stream_origin(self) -> float | None:
        st, tb = self._stream.start_time, self._stream.time_base
        if self.live or st is None or tb is None:
            return None  # the first frame's time becomes 0
        return float(st * tb)

    def _pts_ms(self, frame: VideoFrame, last_ms: float | None, frame_ms: float) -> float:
        # The stream's time base: PyAV leaves frame.time_base unset on some threaded/drained frames.
        tb = self._stream.time_base or frame.time_base
        if frame.pts is None or tb is None:
            return 0.0 if last_ms is None else last_ms + frame_ms
        t = float(frame.pts * tb)
        if self._origin_s is None:
            self._origin_s = t
        return (t - self._origin_s) * 1000.0

    def _duration_ms(self, pre: _Prefetched) -> int | None:
        duration = container_duration_ms(self._container, self._stream)
        if duration is not None or self.live:
            return duration
        return self._scan_duration_ms()

    def _scan_duration_ms(self) -> int | None:
        """No duration in the header (some WebM): demux a second handle to the last packet."""
        url = self._container.name
        try:
            with av.open(url, timeout=(self.timeout_s, self.timeout_s)) as other:
                stream = other.streams[self._stream.index]
                pairs = ((p.pts, p.duration) for p in other.demux(stream) if p.size)
                return duration_from_packets(pairs, stream.time_base or Fraction(1, 1000), stream.start_time)
        except av.error.FFmpegError as exc:
            log.warning("%s: could not scan for the duration: %s", self.source, exc)
            return None

    def _convert(self, decoded: DecodedFrame, channel: str, max_side: int) -> Frame:
        frame = decoded.frame
        width, height = frame.width, frame.height
        target = fit_within(width, height, max_side)
        if target == (width, height):
            rgb = frame.to_ndarray(format="rgb24")
        else:
            rgb = frame.to_ndarray(width=target[0], height=target[1], format="rgb24")
        turns = normalise_rotation(frame.rotation) // 90
        if turns:
            rgb = np.rot90(rgb, turns)
            if turns % 2:
                width, height = height, width
        out = Frame(
            channel=channel,
            seq=self.stats.sampled,
            pts_ms=decoded.pts_ms,
            image=np.ascontiguousarray(rgb),
            source_size=(width, height),
            captured_at=decoded.captured_at,
            keyframe=decoded.keyframe,
            meta={"frame_number": decoded.number},
        )
        self.stats.sampled += 1
        return out


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Size with the longer side <= ``max_side`` (0 = unchanged), aspect kept, never upscaled."""
    longer = max(width, height)
    if max_side <= 0 or longer <= max_side:
        return width, height
    scale = max_side / longer
    return max(1, round(width * scale)), max(1, round(height * scale))
