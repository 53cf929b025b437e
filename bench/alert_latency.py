"""End-to-end alert latency: frame published at nginx-rtmp -> alert on the server's WebSocket.

A real ``framewarden serve`` process, a private nginx-rtmp, and ffmpeg publishers
looping a 10 s clip at real time (``-re``, ``-c copy``).  From 5.0 s to 6.0 s of
every loop the clip shows a picture whose PDQ hash is in a hash bank, so each loop
produces a violation at a known media time.  Its publish time is the publisher's
start + loop x 10 s + 5 s (ffmpeg paces from its start; the error of that estimate,
the ffmpeg start-up, is printed and is tens of milliseconds).  The latency of a loop
is the arrival of the first alert event of that loop at a WebSocket client minus
that publish time, so it includes nginx, demuxing, decoding, sampling, inference,
rules, the database write and the WebSocket push.

Baseline for the ratio: the 1-channel run of the same sampling, in the same run.

    python bench/alert_latency.py [--channels 1,4,16] [--loops 6] [--analyzers hashlist,nudenet]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.e2e.harness

import httpx
from tests.e2e.harness import NginxRtmp, Publisher, free_port, wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FRAMEWARDEN_TEST_DATA") or REPO / "tests" / "data")
FW = [sys.executable, "-m", "framewarden"]
LOOP_S, FLAG_AT_S = 10.0, 5.0


OVERLAY = f"[1]scale=640:360[a];[0][a]overlay=enable='between(t,{FLAG_AT_S},{FLAG_AT_S + 1})'"


def make_clip(folder: Path) -> tuple[Path, Path]:
    """A 640x360 30 fps clip (1 s GOP) showing astronaut.png from 5 s to 6 s; and that frame."""
    clip = folder / "flagged.flv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s=640x360:r=30:d={LOOP_S}",
         "-i", str(SHARED / "images" / "astronaut.png"),
         "-filter_complex", OVERLAY,
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-keyint_min", "30",
         "-pix_fmt", "yuv420p", "-f", "flv", str(clip)],
        check=True,
    )  # fmt: skip
    frame = folder / "flagged.png"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", str(FLAG_AT_S + 0.5), "-i", str(clip),
         "-frames:v", "1", str(frame)],
        check=True,
    )  # fmt: skip
    return clip, frame


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_config(
    tmp: Path, nginx: NginxRtmp, clip: Path, frame: Path, channels: int, interval: float, loops: int,
    analyzers: list[str],
) -> list[float]:  # fmt: skip
    data = tmp / f"data-{channels}-{interval}"
    config = tmp / f"fw-{channels}-{interval}.toml"
    config.write_text(f"analyzers = {json.dumps(analyzers)}\nalert_escalation_s = 0\nalert_group_s = 0\n")
    env = {**os.environ, "FRAMEWARDEN_DATA_DIR": str(data), "FRAMEWARDEN_CONFIG": str(config)}
    subprocess.run([*FW, "banks", "add", "bench", "--label", "Hate Symbols", str(frame)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    key = json.loads(
        subprocess.run(
            [*FW, "keys", "create", "--role", "admin", "--json"], env=env, check=True, capture_output=True
        ).stdout
    )["key"]
    port = free_port()
    log = (tmp / f"serve-{channels}-{interval}.log").open("wb")
    server = subprocess.Popen([*FW, "serve", "--port", str(port), "--log-level", "warning"], env=env,
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    publishers: list[Publisher] = []
    arrivals: dict[str, list[float]] = {}
    stop = threading.Event()
    try:
        assert wait_until(lambda: _healthy(url), 60), "serve did not start"
        rule = {"id": "bench", "channel_pattern": "^bench-", "sample_interval_s": interval,
                "similarity": {"enabled": False}, "labels": {"Hate Symbols": 50}}  # fmt: skip
        httpx.post(f"{url}/v1/rules", json=rule, headers=headers, timeout=30).raise_for_status()

        def listen() -> None:
            with connect(f"ws://127.0.0.1:{port}/v1/events?key={key}&kinds=alert") as ws:
                while not stop.is_set():
                    try:
                        event = json.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    except ConnectionClosed:
                        return
                    if event.get("kind") == "alert":  # the first message is a "hello"
                        arrivals.setdefault(event["channel"], []).append(time.time())

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        starts: dict[str, float] = {}
        for i in range(channels):
            name = f"bench-{i}"
            starts[name] = time.time()
            publishers.append(Publisher(clip, nginx.rtmp_url(name), log_dir=tmp / "ffmpeg").start())
        for i in range(channels):
            name = f"bench-{i}"
            body = {"name": name, "source_url": nginx.rtmp_url(name)}
            httpx.post(f"{url}/v1/channels", json=body, headers=headers, timeout=30).raise_for_status()
        time.sleep(LOOP_S * (loops + 1) + 2)
    finally:
        stop.set()
        for pub in publishers:
            pub.close()
        server.terminate()
        server.wait(60)
    latencies: list[float] = []
    for name, start in starts.items():
        times = sorted(arrivals.get(name, []))
        # Loop 0 is skipped: the channel connects while it plays.
        for k in range(1, loops + 1):
            flagged_at = start + k * LOOP_S + FLAG_AT_S
            after = [t for t in times if flagged_at - 0.5 <= t < flagged_at + LOOP_S - 0.5]
            if after:
                latencies.append((after[0] - flagged_at) * 1000)
    return latencies


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", default="1,4,16", help="Channel counts, comma-separated.")
    parser.add_argument(
        "--intervals", default="0,1", help="Rule sample intervals in seconds (0 = every frame)."
    )
    parser.add_argument("--loops", type=int, default=5, help="Flagged moments measured per channel.")
    parser.add_argument("--analyzers", default="hashlist,nudenet", help="Analyzers of the server.")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fw-alert-bench-"))
    clip, frame = make_clip(tmp)
    t0 = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-version"], check=True, capture_output=True)
    print(f"ffmpeg start-up (error of the publish-time estimate): {(time.perf_counter() - t0) * 1000:.0f} ms")
    print(f"analyzers: {args.analyzers}; {args.loops} flagged moments per channel; cores: {os.cpu_count()}")
    head = ("interval", "channels", "alerts", "p50 ms", "p99 ms", "max ms", "p99 vs 1 ch")
    print(" ".join(f"{h:>9}" for h in head))
    for interval in [float(x) for x in args.intervals.split(",")]:
        base: float | None = None
        for channels in [int(x) for x in args.channels.split(",")]:
            with NginxRtmp(tmp / f"nginx-{channels}-{interval}") as nginx:
                lat = run_config(tmp, nginx, clip, frame, channels, interval, args.loops,
                                 args.analyzers.split(","))  # fmt: skip
            if not lat:
                print(f"{interval:>9g} {channels:>9d}         0  (no alert arrived: see {tmp})")
                continue
            p50, p99 = percentile(lat, 50), percentile(lat, 99)
            base = base or p99
            cells = (f"{interval:g}", str(channels), str(len(lat)), f"{p50:.0f}", f"{p99:.0f}",
                     f"{max(lat):.0f}", f"{p99 / base:.2f}x")  # fmt: skip
            print(" ".join(f"{c:>9}" for c in cells))


if __name__ == "__main__":
    main()
