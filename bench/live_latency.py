"""Live latency: N channels pushed through nginx-rtmp at real time, moderated by one process.

For each configuration (GOP, sampling, channel count) this starts a private
nginx-rtmp, N ffmpeg publishers (``-c copy`` of a clip encoded once, so the
publishers cost little CPU), and a ChannelManager with N channels, then
measures over a window:

* latency inside framewarden, per analyzed frame: frame arrival (demux time)
  -> verdict recorded, p50 / p99;
* frames dropped by the newest-keeping queues, channels live;
* CPU: framewarden (this process, from ``resource``) and the publishers +
  nginx (from /proc), in cores (1.0 = one core busy).

The baseline is the first channel count of the same GOP, sampling and mode, in
the same invocation; each row prints its p99 as a ratio to it.  ``--mode``
compares inference set-ups side by side (each channel count runs once per
mode, one after the other): ``serve`` (what ``framewarden serve`` builds from
the settings ``live_inference_lanes`` / ``live_inference_max_batch``),
``one-lane`` (one inference thread, batches of 8: ``serve`` before issue 14),
or ``LxB`` (L lanes, batches of at most B; ``LxBtT``: and T ONNX Runtime
threads per session, the analyzers rebuilt for it).  ``p99/m1`` is the row's p99 over
the first mode's at the same channel count; ``cpu ms/fr`` is framewarden's CPU
per analyzed frame, which depends little on what else runs on the machine.
The default analyzer (``test_slow`` with no delay: finds nothing) measures the
pipeline itself; ``--analyzers nudenet`` adds a real model's cost.

    python bench/live_latency.py --channels 1,4,16,32 --gops 1,2 --duration 15
    python bench/live_latency.py --analyzers nudenet --channels 16,50 --gops 1 --duration 15 \\
        --stagger --every-frame-max 0 --mode one-lane,serve
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.e2e.harness

from tests.e2e.harness import ClipSpec, NginxRtmp, Publisher, SlowConfig, encode_clip, wait_until

from framewarden.analyzers.base import AnalyzerConfig, SharedAnalyzers, config_for
from framewarden.config import Settings, get_settings
from framewarden.moderator import Moderator
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.pipeline.channels import ChannelManager
from framewarden.pipeline.context import MemoryResultSink, WorkerContext
from framewarden.pipeline.metrics import PipelineMetrics
from framewarden.pipeline.worker import ChannelState, percentile
from framewarden.rules.models import Rule

_TICKS = os.sysconf("SC_CLK_TCK")
_ENV_THREADS = os.environ.get("FRAMEWARDEN_INFERENCE_THREADS")  # what the user set, for modes without tT


@dataclass(frozen=True)
class Mode:
    """How the shared inference batcher runs: threads (lanes), largest micro-batch, ONNX threads."""

    name: str
    lanes: int
    max_batch: int
    onnx_threads: int | None = None  # None: the settings' inference_threads


_MODE = re.compile(r"(\d+)x(\d+)(?:t(\d+))?")


def parse_modes(text: str) -> list[Mode]:
    """``serve``, ``one-lane`` or ``LxB[tT]`` (e.g. ``2x4``, ``2x4t1``), comma-separated."""
    modes = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        if item == "serve":
            settings = Settings()
            modes.append(Mode(item, settings.live_inference_lanes, settings.live_inference_max_batch))
        elif item == "one-lane":
            modes.append(Mode(item, 1, 8))
        else:
            match = _MODE.fullmatch(item)
            if not match or int(match[1]) < 1 or int(match[2]) < 1:
                raise SystemExit(f"--mode: {item!r} is not serve, one-lane or LxB[tT] (e.g. 2x4, 2x4t1)")
            threads = int(match[3]) if match[3] is not None else None
            modes.append(Mode(item, int(match[1]), int(match[2]), threads))
    if not modes:
        raise SystemExit("--mode: name at least one mode")
    return modes


def use_onnx_threads(threads: int | None, default: str | None) -> None:
    """Rebuild the analyzers with ``threads`` ONNX Runtime threads per session (they read the settings)."""
    wanted = default if threads is None else str(threads)
    if os.environ.get("FRAMEWARDEN_INFERENCE_THREADS") == wanted:
        return
    if wanted is None:
        os.environ.pop("FRAMEWARDEN_INFERENCE_THREADS", None)
    else:
        os.environ["FRAMEWARDEN_INFERENCE_THREADS"] = wanted
    get_settings.cache_clear()
    SharedAnalyzers.close_all()


@dataclass
class Row:
    channels: int
    gop_s: float
    interval_s: float
    live: int
    analyzed: int
    expected: float
    dropped: int
    p50_ms: float | None
    p99_ms: float | None
    cpu_fw: float
    cpu_pub: float


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_one(
    clip: Path,
    root: Path,
    *,
    channels: int,
    gop_s: float,
    interval_s: float,
    fps: int,
    duration_s: float,
    analyzers: list[AnalyzerConfig],
    stagger: bool = False,
    mode: Mode | None = None,
) -> Row:
    rule = Rule(
        id="bench",
        channel_pattern=".*",
        sample_interval_s=interval_s,
        similarity={"enabled": False},
        labels={"Explicit": 50},
    )
    sink = MemoryResultSink(per_channel=100_000)
    mode = mode or Mode("one-lane", 1, 8)
    use_onnx_threads(mode.onnx_threads, _ENV_THREADS)
    batcher = InferenceBatcher(
        Moderator(analyzers), max_batch=mode.max_batch, max_wait_ms=2.0, lanes=mode.lanes
    ).start()
    from prometheus_client import CollectorRegistry

    ctx = WorkerContext(
        batcher=batcher, results=sink, metrics=PipelineMetrics(CollectorRegistry()), open_timeout_s=20.0
    )
    names = [f"ch{i:02d}" for i in range(channels)]
    with NginxRtmp(root / f"nginx-{channels}-{gop_s}-{interval_s}") as nginx:
        publishers = []
        for i, n in enumerate(names):
            if stagger and i:
                # Independent streams: keyframes spread over one GOP instead of all at the same instant.
                time.sleep(gop_s / channels)
            publishers.append(Publisher(clip, nginx.rtmp_url(n)).start())
        try:
            manager = ChannelManager(ctx, rules=[rule], settings=Settings())
            for n in names:
                manager.add(n, nginx.rtmp_url(n))
            wait_until(lambda: all(s.state is ChannelState.LIVE for s in manager.snapshots()), 60.0, 0.5)
            time.sleep(2.0)  # let the queues settle after the opening burst
            before = {s.name: s.stats for s in manager.snapshots()}
            pids = [p.proc.pid for p in publishers if p.proc] + ([nginx.proc.pid] if nginx.proc else [])
            cpu0, pub0, t0 = _self_cpu_s(), sum(_proc_cpu_s(p) for p in pids), time.time()
            time.sleep(duration_s)
            cpu1, pub1, t1 = _self_cpu_s(), sum(_proc_cpu_s(p) for p in pids), time.time()
            after = manager.snapshots()
            manager.close(10.0)
        finally:
            for p in publishers:
                p.close()
    batcher.close(5.0)
    records = [r for r in sink if t0 <= r.decided_at <= t1]
    latencies = sorted(r.latency_ms for r in records)
    dropped = sum(s.stats["dropped"] - before.get(s.name, {}).get("dropped", 0) for s in after)
    per_second = (1.0 / interval_s) if interval_s else float(fps)
    return Row(
        channels=channels,
        gop_s=gop_s,
        interval_s=interval_s,
        live=sum(s.state is ChannelState.LIVE for s in after),
        analyzed=len(records),
        expected=channels * per_second * (t1 - t0),
        dropped=dropped,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        cpu_fw=(cpu1 - cpu0) / (t1 - t0),
        cpu_pub=(pub1 - pub0) / (t1 - t0),
    )


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", default="1,4,16,32", help="Channel counts, comma-separated.")
    parser.add_argument("--gops", default="1,2", help="GOP lengths in seconds, comma-separated.")
    parser.add_argument(
        "--every-frame-max",
        type=int,
        default=1,
        help="Also run 'every frame' sampling for channel counts up to this.",
    )
    parser.add_argument("--duration", type=float, default=15.0, help="Measured seconds per configuration.")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--analyzers", default="", help="Analyzer keys (default: none, pipeline cost only).")
    parser.add_argument(
        "--mode",
        default="serve",
        help="Inference set-ups side by side: serve, one-lane, LxB[tT] (lanes x batch, ONNX threads), "
        "comma-separated.",
    )
    parser.add_argument(
        "--stagger",
        action="store_true",
        help="Start publishers spread over one GOP (independent streams) instead of all at once "
        "(every keyframe in the same instant: the worst case).",
    )
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    analyzers: list[AnalyzerConfig] = (
        [config_for(k) for k in args.analyzers.split(",")] if args.analyzers else [SlowConfig(delay_s=0.0)]
    )
    counts = [int(x) for x in args.channels.split(",")]
    modes = parse_modes(args.mode)
    root = Path(tempfile.mkdtemp(prefix="fw-live-bench-"))
    print(
        f"{os.cpu_count()} cores; {width}x{height}@{args.fps}; analyzers: {[a.type for a in analyzers]}; "
        f"{args.duration:g} s per row; work dir {root}; modes: "
        + ", ".join(f"{m.name} ({m.lanes} lanes, batch {m.max_batch})" for m in modes)
    )
    header = (
        f"{'gop':>4} {'sample':>7} {'ch':>3} {'mode':>8} {'live':>4} {'analyzed':>9} {'expected':>9} "
        f"{'dropped':>8} {'p50 ms':>7} {'p99 ms':>7} {'p99/1st':>7} {'p99/m1':>6} {'fw cores':>8} "
        f"{'cpu ms/fr':>9} {'pub cores':>9}"
    )
    print(header)
    for gop in (float(g) for g in args.gops.split(",")):
        clip = encode_clip(
            ClipSpec("testsrc2", width, height, args.fps, gop, duration_s=20.0), root / f"clip-gop{gop:g}.flv"
        )
        for interval in (1.0, 0.0):
            baselines: dict[str, float] = {}
            for n in counts:
                if interval == 0.0 and n > args.every_frame_max:
                    continue
                first_mode: float | None = None
                for mode in modes:
                    row = run_one(
                        clip,
                        root,
                        channels=n,
                        gop_s=gop,
                        interval_s=interval,
                        fps=args.fps,
                        duration_s=args.duration,
                        analyzers=analyzers,
                        stagger=args.stagger,
                        mode=mode,
                    )
                    if row.p99_ms is not None:
                        baselines.setdefault(mode.name, row.p99_ms)
                        first_mode = row.p99_ms if first_mode is None else first_mode
                    base = baselines.get(mode.name)
                    ratio = row.p99_ms / base if row.p99_ms and base else None
                    vs_first = row.p99_ms / first_mode if row.p99_ms and first_mode else None
                    cpu_ms = row.cpu_fw * 1000.0 * args.duration / row.analyzed if row.analyzed else None
                    sample = f"{1 / interval:g}fps" if interval else "all"
                    print(
                        f"{gop:>4g} {sample:>7} {n:>3} {mode.name:>8} {row.live:>4} {row.analyzed:>9} "
                        f"{row.expected:>9.0f} {row.dropped:>8} {_fmt(row.p50_ms):>7} {_fmt(row.p99_ms):>7} "
                        f"{_fmt(ratio):>7} {_fmt(vs_first, 2):>6} {row.cpu_fw:>8.2f} {_fmt(cpu_ms):>9} "
                        f"{row.cpu_pub:>9.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
