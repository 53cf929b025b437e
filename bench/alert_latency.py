"""End-to-end alert latency: frame published -> alert on the server's WebSocket, per protocol.

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

``--protocol rtmp,hls,rtsp,srt`` runs the same clip through each live protocol
(publishers and servers from ``tests/e2e/protocols.py``) and prints each one's
p50/p99 beside RTMP's, measured in the same run.  Publish time is the
publisher's start (HLS: FFmpeg's HLS writer, whose segments then wait for
the HTTP poll; SRT: framewarden listens and FFmpeg calls in) except RTSP,
where GStreamer's RTSP server reports when its pipeline for our client began
playing the clip (a long copy of it: it plays once per client).

    python bench/alert_latency.py [--channels 1,4,16] [--loops 6] [--analyzers hashlist,nudenet]
    python bench/alert_latency.py --protocol rtmp,hls,rtsp,srt --channels 1 --intervals 0 \
        --loops 20 --loop-s 4 --analyzers hashlist
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
from tests.e2e.protocols import Feed, HlsFeed, RtspFeed, SrtListenerFeed
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FRAMEWARDEN_TEST_DATA") or REPO / "tests" / "data")
FW = [sys.executable, "-m", "framewarden"]
LOOP_S, FLAG_AT_S = 10.0, 5.0  # --loop-s changes both: the picture shows from the middle for 1 s
FEEDS: dict[str, type[Feed]] = {"hls": HlsFeed, "rtsp": RtspFeed, "srt": SrtListenerFeed}


def make_clip(folder: Path) -> tuple[Path, Path]:
    """A 640x360 30 fps clip (1 s GOP) showing astronaut.png for 1 s from its middle; and that frame."""
    overlay = f"[1]scale=640:360[a];[0][a]overlay=enable='between(t,{FLAG_AT_S},{FLAG_AT_S + 1})'"
    clip = folder / "flagged.flv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s=640x360:r=30:d={LOOP_S}",
         "-i", str(SHARED / "images" / "astronaut.png"),
         "-filter_complex", overlay,
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


def long_clip(clip: Path, loops: int) -> Path:
    """The clip repeated ``loops`` times (stream copy): for a server that plays it once per client."""
    out = clip.with_name(f"{clip.stem}-x{loops}.flv")
    if not out.is_file():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(loops - 1), "-i", str(clip),
                        "-c", "copy", str(out)], check=True)  # fmt: skip
    return out


def run_config(
    tmp: Path, nginx: NginxRtmp | None, clip: Path, frame: Path, channels: int, interval: float, loops: int,
    analyzers: list[str], protocol: str = "rtmp",
) -> list[float]:  # fmt: skip
    tag = f"{protocol}-{channels}-{interval}"
    data = tmp / f"data-{tag}"
    config = tmp / f"fw-{tag}.toml"
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
    log = (tmp / f"serve-{tag}.log").open("wb")
    server = subprocess.Popen([*FW, "serve", "--port", str(port), "--log-level", "warning"], env=env,
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    publishers: list[Publisher] = []
    feeds: dict[str, Feed] = {}
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
        sources: dict[str, str] = {}
        for i in range(channels):
            name = f"bench-{i}"
            if nginx is not None:
                starts[name] = time.time()
                publishers.append(Publisher(clip, nginx.rtmp_url(name), log_dir=tmp / "ffmpeg").start())
                sources[name] = nginx.rtmp_url(name)
            else:
                feed_clip = long_clip(clip, loops + 3) if protocol == "rtsp" else clip
                feeds[name] = FEEDS[protocol](feed_clip, tmp / f"feed-{tag}-{i}")
                if not feeds[name].channel_first:
                    feeds[name].start()
                sources[name] = feeds[name].source
        for name, source in sources.items():
            body = {"name": name, "source_url": source}
            httpx.post(f"{url}/v1/channels", json=body, headers=headers, timeout=30).raise_for_status()
        for feed in feeds.values():
            if feed.channel_first:
                feed.start()
        time.sleep(LOOP_S * (loops + 1) + 4)
        # Media time 0 of each feed (RTSP: the pipeline that played to our client).
        starts.update({name: feed.published_at for name, feed in feeds.items()})
    finally:
        stop.set()
        for pub in publishers:
            pub.close()
        for feed in feeds.values():
            feed.close()
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
    global LOOP_S, FLAG_AT_S
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", default="1,4,16", help="Channel counts, comma-separated.")
    parser.add_argument(
        "--intervals", default="0,1", help="Rule sample intervals in seconds (0 = every frame)."
    )
    parser.add_argument("--loops", type=int, default=5, help="Flagged moments measured per channel.")
    parser.add_argument("--analyzers", default="hashlist,nudenet", help="Analyzers of the server.")
    parser.add_argument(
        "--protocol", default="rtmp", help="Protocols, comma-separated: rtmp (the baseline), hls, rtsp, srt."
    )
    parser.add_argument(
        "--loop-s", type=float, default=LOOP_S, help="Clip length: one flagged moment per loop."
    )
    args = parser.parse_args()
    LOOP_S, FLAG_AT_S = args.loop_s, args.loop_s / 2
    protocols = args.protocol.split(",")
    if set(protocols) - {"rtmp", *FEEDS}:
        parser.error(f"unknown protocol in {args.protocol!r} (rtmp, {', '.join(FEEDS)})")
    if len(protocols) > 1:
        compare_protocols(args, protocols)
        return
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
            if protocols == ["rtmp"]:
                with NginxRtmp(tmp / f"nginx-{channels}-{interval}") as nginx:
                    lat = run_config(tmp, nginx, clip, frame, channels, interval, args.loops,
                                     args.analyzers.split(","))  # fmt: skip
            else:
                lat = run_config(tmp, None, clip, frame, channels, interval, args.loops,
                                 args.analyzers.split(","), protocols[0])  # fmt: skip
            if not lat:
                print(f"{interval:>9g} {channels:>9d}         0  (no alert arrived: see {tmp})")
                continue
            p50, p99 = percentile(lat, 50), percentile(lat, 99)
            base = base or p99
            cells = (f"{interval:g}", str(channels), str(len(lat)), f"{p50:.0f}", f"{p99:.0f}",
                     f"{max(lat):.0f}", f"{p99 / base:.2f}x")  # fmt: skip
            print(" ".join(f"{c:>9}" for c in cells))


def compare_protocols(args: argparse.Namespace, protocols: list[str]) -> None:
    """One channel per protocol, the same clip and sampling; p50/p99 beside RTMP's, in the same run."""
    tmp = Path(tempfile.mkdtemp(prefix="fw-alert-bench-"))
    clip, frame = make_clip(tmp)
    interval = float(args.intervals.split(",")[0])
    print(f"analyzers: {args.analyzers}; {args.loops} flagged moments per protocol, every {LOOP_S:g} s; "
          f"sample interval {interval:g} s; cores: {os.cpu_count()} (shared: timings are noisy)")  # fmt: skip
    head = ("protocol", "alerts", "p50 ms", "p99 ms", "max ms", "p50/rtmp", "p99/rtmp")
    print(" ".join(f"{h:>9}" for h in head))
    base: tuple[float, float] | None = None
    for protocol in protocols:
        if protocol == "rtmp":
            with NginxRtmp(tmp / f"nginx-{protocol}") as nginx:
                lat = run_config(tmp, nginx, clip, frame, 1, interval, args.loops, args.analyzers.split(","))
        else:
            lat = run_config(
                tmp, None, clip, frame, 1, interval, args.loops, args.analyzers.split(","), protocol
            )
        if not lat:
            print(f"{protocol:>9}         0  (no alert arrived: see {tmp})")
            continue
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        if protocol == "rtmp":
            base = (p50, p99)
        ratios = (f"{p50 / base[0]:.2f}x", f"{p99 / base[1]:.2f}x") if base else ("-", "-")
        cells = (protocol, str(len(lat)), f"{p50:.0f}", f"{p99:.0f}", f"{max(lat):.0f}", *ratios)
        print(" ".join(f"{c:>9}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
