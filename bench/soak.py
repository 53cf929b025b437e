"""Soak: many live channels through nginx-rtmp into one ``framewarden serve`` for a long while.

``--channels`` ffmpeg publishers (``-c copy`` of a pre-encoded clip, looped)
push to a private nginx-rtmp; the server analyzes each at ``--fps`` frames per
second (a global rule's ``sample_interval_s``) with retention pruning results
older than ``--keep-s`` every ``--prune-every-s``, so storage has a bound to
reach.  Every ``--every`` seconds the server process is sampled: RSS, open file
descriptors, threads, database size (file + WAL) and result rows.  The table
is printed as it goes; at the end, growth after warm-up (the first third) is
printed as ratios, and the exit status is 1 if a channel is not live at the
end or the server died.

    python bench/soak.py [--channels 16] [--fps 1] [--minutes 10] [--every 10] [--analyzers nudenet]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.harness import ClipSpec, NginxRtmp, Publisher, encode_clip, wait_until  # noqa: E402
from tests.e2e.serve_process import ServeProcess  # noqa: E402


@dataclass(frozen=True)
class Sample:
    t_s: float
    rss_mb: float
    fds: int
    threads: int
    db_mb: float
    results: int
    live: int


def db_size_mb(data: Path) -> float:
    files = [data / "framewarden.db", data / "framewarden.db-wal"]
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


def result_rows(data: Path) -> int:
    try:
        with sqlite3.connect(f"file:{data / 'framewarden.db'}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
    except sqlite3.Error:
        return -1


def live_channels(server: ServeProcess) -> int:
    try:
        items = server.api("GET", "/v1/channels", timeout=10).json()
    except Exception:
        return -1
    rows = items["items"] if isinstance(items, dict) else items
    return sum(1 for c in rows if c.get("state") == "live")


def sample(server: ServeProcess, t0: float) -> Sample:
    proc = psutil.Process(server.pid)
    return Sample(
        t_s=time.monotonic() - t0,
        rss_mb=proc.memory_info().rss / 1e6,
        fds=proc.num_fds(),
        threads=proc.num_threads(),
        db_mb=db_size_mb(server.data),
        results=result_rows(server.data),
        live=live_channels(server),
    )


def row(s: Sample) -> str:
    return f"{s.t_s:7.0f} {s.rss_mb:9.1f} {s.fds:6d} {s.threads:8d} {s.db_mb:8.2f} {s.results:9d} {s.live:5d}"


HEADER = f"{'t (s)':>7} {'RSS (MB)':>9} {'fds':>6} {'threads':>8} {'DB (MB)':>8} {'results':>9} {'live':>5}"


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def growth(samples: list[Sample], bound_rows: float) -> str:
    """Growth from the end of warm-up (the first third) to the last sample, as ratios."""
    warm = [s for s in samples if s.t_s >= samples[-1].t_s / 3] or samples
    first, last = warm[0], samples[-1]
    return (
        f"\nafter warm-up (t >= {first.t_s:.0f} s): RSS x{_ratio(last.rss_mb, first.rss_mb):.2f}, "
        f"fds {last.fds - first.fds:+d}, threads {last.threads - first.threads:+d}, "
        f"DB x{_ratio(last.db_mb, first.db_mb):.2f}, result rows x{_ratio(last.results, first.results):.2f} "
        f"(retention bound ~{bound_rows:.0f} rows)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--fps", type=float, default=1.0, help="analyzed frames per second per channel")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--analyzers", default="nudenet")
    parser.add_argument("--keep-s", type=float, default=120.0, help="results retention, seconds")
    parser.add_argument("--prune-every-s", type=float, default=30.0)
    args = parser.parse_args()

    analyzers = ", ".join(f'"{a.strip()}"' for a in args.analyzers.split(",") if a.strip())
    toml = (
        f"analyzers = [{analyzers}]\nalert_escalation_s = 0\n"
        f"retention_results_days = {args.keep_s / 86400.0!r}\nretention_interval_s = {args.prune_every_s!r}\n"
    )
    rule = {
        "id": "soak",
        "channel_pattern": "^soak-",
        "sample_interval_s": 1.0 / args.fps,
        "labels": {"Explicit": 60},
    }
    with tempfile.TemporaryDirectory(prefix="fw-soak-") as tmp_name:
        tmp = Path(tmp_name)
        clip = encode_clip(
            ClipSpec(source="testsrc2", width=640, height=360, fps=15, gop_s=0.5, duration_s=20),
            tmp / "clip.flv",
        )
        publishers: list[Publisher] = []
        with NginxRtmp(tmp / "nginx") as nginx:
            (tmp / "fw").mkdir()
            server = ServeProcess(tmp / "fw", toml)
            server.create_key("admin")
            server.start()
            try:
                names = [f"soak-{i:02d}" for i in range(args.channels)]
                for name in names:
                    publishers.append(Publisher(clip, nginx.rtmp_url(name), log_dir=tmp / "ffmpeg").start())
                for name in names:
                    nginx.wait_publishing(name, 20)
                assert server.api("POST", "/v1/rules", json=rule).status_code == 201
                for name in names:
                    r = server.api(
                        "POST", "/v1/channels", json={"name": name, "source_url": nginx.rtmp_url(name)}
                    )
                    assert r.status_code == 201, r.text
                wait_until(lambda: live_channels(server) == args.channels, 60)
                what = f"{args.channels} channels x {args.fps:g} frame/s through nginx-rtmp"
                print(f"soak: {what}, {args.minutes:g} min, analyzers [{analyzers}], keep {args.keep_s:g} s")
                print(HEADER)
                samples: list[Sample] = []
                t0 = time.monotonic()
                end = t0 + args.minutes * 60.0
                while True:
                    samples.append(sample(server, t0))
                    print(row(samples[-1]), flush=True)
                    if time.monotonic() >= end:
                        break
                    time.sleep(max(0.0, min(args.every, end - time.monotonic())))
                alive = server.healthy()
            finally:
                for pub in publishers:
                    pub.close()
                code = server.stop(60)
        bound = args.channels * args.fps * (args.keep_s + args.prune_every_s)
        print(growth(samples, bound))
        last = samples[-1]
        ok = alive and code == 0 and last.live == args.channels
        print(f"  [{'ok' if ok else 'FAIL'}] all {args.channels} channels live at the end, server alive, "
              f"SIGTERM exit {code}")  # fmt: skip
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
