"""Stored-video scan throughput: ``framewarden scan`` against naive loops, side by side.

Both sides run as whole processes on the same files, in the same run, so the
ratios hold on a noisy shared machine where absolute figures do not:

(a) every frame analyzed: ``framewarden scan --sample-interval 0`` vs a loop of
    OpenCV ``VideoCapture`` + ``nudenet.NudeDetector().detect`` on each frame;
(b) 1 fps of a clip with long keyframe spacing (every frame must be decoded):
    vs the naive loop that decodes and converts everything and analyzes every
    Nth frame, and vs the limit = ffmpeg's own decode time of the file +
    sampled frames x the model's time per frame;
(c) 1 fps of a -g 30 clip (keyframes-only decoding) vs the naive loop;
(d) decode only: framewarden's source vs ``ffmpeg -f null``.

Inputs are made with ffmpeg: a real 720p clip from the shared data (Big Buck
Bunny, re-encoded to H.264 with one keyframe per 10 s) and a 720p30 testsrc2
clip with -g 30.  Prints frames/s, ratios and each side's peak RSS.

    python bench/scan_throughput.py [--seconds 20] [--analyzers nudenet]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FRAMEWARDEN_TEST_DATA") or REPO / "tests" / "data")

NAIVE = textwrap.dedent(
    """
    import json, sys, time
    import cv2
    from nudenet import NudeDetector
    path, every = sys.argv[1], int(sys.argv[2])
    detector = NudeDetector()
    cap = cv2.VideoCapture(path)
    n = analyzed = 0
    model_s = 0.0
    while True:
        ok, frame = cap.read()  # decodes and converts every frame (BGR, full size)
        if not ok:
            break
        if n % every == 0:
            t0 = time.perf_counter()
            detector.detect(frame)
            model_s += time.perf_counter() - t0
            analyzed += 1
        n += 1
    print(json.dumps({"decoded": n, "analyzed": analyzed, "model_ms": 1000 * model_s / max(analyzed, 1)}))
    """
)

DECODE_ONLY = textwrap.dedent(
    """
    import json, sys
    from framewarden.media.source import open_video
    with open_video(sys.argv[1]) as video:
        n = sum(1 for _ in video.decoded_frames())
    print(json.dumps({"decoded": n}))
    """
)

MODEL_COST = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from framewarden.media.source import open_video
    from framewarden.moderator import Moderator
    moderator = Moderator(sys.argv[2].split(","))
    from framewarden.pipeline.context import preferred_max_side
    with open_video(sys.argv[1]) as video:
        max_side = preferred_max_side(moderator.analyzers)  # as scan and the server choose it
        stream = video.frames(channel="m", sample_interval_s=0.5, max_side=max_side)
        frames = [f for _, f in zip(range(32), stream)]
    moderator.moderate_frames(frames[:8])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(frames), 8):
        moderator.moderate_frames(frames[i : i + 8])
    print(json.dumps({"model_ms": 1000 * (time.perf_counter() - t0) / len(frames)}))
    """
)


@dataclass
class Run:
    wall_s: float
    peak_rss_mb: float
    output: str


def run_rss(cmd: list[str]) -> Run:
    """Like :func:`run`, with this child's own peak RSS (os.wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return Run(wall, usage.ru_maxrss / 1024, out)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make_inputs(folder: Path, seconds: int) -> tuple[Path, Path]:
    real = folder / "bbb720_longgop.mp4"
    source = SHARED / "videos" / "big_buck_bunny_0_30.webm"
    ffmpeg("-stream_loop", "-1", "-i", str(source), "-t", str(seconds), "-an",
           "-c:v", "libx264", "-preset", "veryfast", "-g", "240", "-keyint_min", "240",
           "-sc_threshold", "0", str(real))  # fmt: skip
    synth = folder / "testsrc2_720p30_g30.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=30:d={seconds}", "-c:v", "libx264",
           "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p", str(synth))  # fmt: skip
    return real, synth


def ffmpeg_decode_s(path: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-an", "-f", "null", "-"], check=True)
    return time.perf_counter() - t0


def frame_count(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
         "stream=nb_read_packets,r_frame_rate", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return int(json.loads(out)["streams"][0]["nb_read_packets"])


def fps_of(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=avg_frame_rate",
         "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    num, _, den = out.partition("/")
    return float(num) / float(den or 1)


def scan_cmd(
    path: Path, out: Path, interval: float, analyzers: str, extra: tuple[str, ...] = ()
) -> list[str]:
    return [sys.executable, "-m", "framewarden.cli", "scan", str(path), "--analyzers", analyzers,
            "--sample-interval", str(interval), "--out", str(out), "--workers", "1", "-q",
            *extra]  # fmt: skip


def scan_summary(out: Path) -> dict[str, object]:
    (result,) = [p for p in out.glob("*.json")]
    return json.loads(result.read_text())["Summary"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20, help="length of the test clips")
    parser.add_argument("--analyzers", default="nudenet", help="framewarden analyzers (naive side: NudeNet)")
    parser.add_argument("--only", default="abcd", help="which cases to run, e.g. 'bd'")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fw-bench-"))
    naive_py = tmp / "naive.py"
    naive_py.write_text(NAIVE)
    real, synth = make_inputs(tmp, args.seconds)
    print(f"inputs: {real.name} ({frame_count(real)} frames), {synth.name} ({frame_count(synth)} frames)")

    # Fixed cost of one `framewarden scan` process (interpreter, imports, model load) on a 5-frame clip.
    tiny = SHARED / "broken" / "-video-with-dash-.mp4"
    startup = min(
        run_rss(scan_cmd(tiny, tmp / f"out-startup-{i}", 0.0, args.analyzers)).wall_s for i in range(3)
    )
    print(f"start-up: one framewarden scan process on a 5-frame clip takes {startup:.2f} s (best of 3)")

    def side_by_side(
        label: str, path: Path, interval: float, every: int, extra: tuple[str, ...] = ()
    ) -> tuple[Run, Run, dict[str, object]]:
        out = tmp / f"out-{label}"
        fw = run_rss(scan_cmd(path, out, interval, args.analyzers, extra))
        naive = run_rss([sys.executable, str(naive_py), str(path), str(every)])
        summary = scan_summary(out)
        nv = json.loads(naive.output)
        flags = f" ({' '.join(extra)})" if extra else ""
        print(f"\n({label}) {path.name}, sample interval {interval or 'every frame'} s{flags}")
        s = summary
        print(f"  framewarden: {fw.wall_s:7.2f} s  decoded {s['FramesDecoded']},"
              f" analyzed {s['FramesAnalyzed']}"
              f" (dup-skipped {s['FramesSkippedAsDuplicates']}, keyframes-only {s['KeyframesOnly']})"
              f"  {int(s['FramesSampled']) / fw.wall_s:7.1f} sampled frames/s"
              f"  peak RSS {fw.peak_rss_mb:.0f} MB")  # fmt: skip
        print(f"  naive loop : {naive.wall_s:7.2f} s  decoded {nv['decoded']}, analyzed {nv['analyzed']}  "
              f"{nv['decoded'] / naive.wall_s:7.1f} frames/s  peak RSS {naive.peak_rss_mb:.0f} MB  "
              f"(model {nv['model_ms']:.1f} ms/frame)")  # fmt: skip
        print(f"  speed-up   : {naive.wall_s / fw.wall_s:5.2f}x")
        return fw, naive, summary

    if "a" in args.only:
        side_by_side("a", real, 0.0, 1)  # the default: near-duplicate frames skipped
        side_by_side("a-nodedup", real, 0.0, 1, ("--no-dedup",))  # really every frame through the model
    if "b" in args.only:
        fps = fps_of(real)
        fw, _, summary = side_by_side("b", real, 1.0, max(1, round(fps)))
        cost = json.loads(run_rss([sys.executable, "-c", MODEL_COST, str(real), args.analyzers]).output)
        decode_s = ffmpeg_decode_s(real)
        limit = decode_s + int(summary["FramesAnalyzed"]) * cost["model_ms"] / 1000
        print(f"  limit      : {limit:7.2f} s  = ffmpeg decode {decode_s:.2f} s"
              f" + {summary['FramesAnalyzed']} x {cost['model_ms']:.1f} ms;"
              f"  framewarden / limit = {fw.wall_s / limit:4.2f}x"
              f" ({(fw.wall_s - startup) / limit:4.2f}x without the process start-up)")  # fmt: skip
    if "c" in args.only:
        side_by_side("c", synth, 1.0, max(1, round(fps_of(synth))))
    if "d" in args.only:
        for path in (real, synth):
            fw = run_rss([sys.executable, "-c", DECODE_ONLY, str(path)])
            n = json.loads(fw.output)["decoded"]
            ff = ffmpeg_decode_s(path)
            print(f"\n(d) decode only, {path.name}:"
                  f" framewarden {n / fw.wall_s:7.1f} frames/s ({fw.wall_s:.2f} s incl. start-up),"
                  f" ffmpeg -f null {n / ff:7.1f} frames/s ({ff:.2f} s);"
                  f" framewarden / ffmpeg time = {fw.wall_s / ff:4.2f}x;"
                  f" peak RSS {fw.peak_rss_mb:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
