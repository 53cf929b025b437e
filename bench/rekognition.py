"""The Rekognition-compatible endpoint and video jobs, beside their baselines, in one run.

(a) ``DetectModerationLabels`` through boto3's real client (SigV4 signed, AWS
    JSON) against a real ``framewarden serve``, at 1, 4 and 16 concurrent
    clients: requests/s, p50, p99; beside the same images through
    ``POST /v1/images:moderate`` (the protocol's overhead) and the in-process
    ``Moderator`` behind an ``InferenceBatcher`` fed by as many threads (the limit).
(b) A video job (``POST /v1/jobs``) in frames/s beside ``framewarden scan`` on
    the same file with the same sample interval.
(c) Latency of the live-priority path while that job runs: image pushes go
    to the batcher ahead of job frames like live channel frames do; p99 with
    the job running beside p99 with the server idle.
(d) A real live channel (nginx-rtmp + an ffmpeg publisher, in this process:
    ChannelManager and JobService sharing one InferenceBatcher): frame latency
    p50/p99 idle, while a video job runs through the 2-slot background lane
    (the server's setting), and while it runs with 16 slots (about what plain
    FIFO submission would give).

Every figure is taken in this one run on the same machine, so the ratios
hold where absolute numbers do not (a shared CPU moves them a lot).

    python bench/rekognition.py [--seconds 4] [--analyzers nudenet]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
from botocore.config import Config
from PIL import Image

FW = [sys.executable, "-m", "framewarden"]


def images(n: int = 8) -> list[bytes]:
    rng = np.random.default_rng(1)
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((640, 480), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def load(call: Callable[[int], None], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` threads calling ``call`` for ``seconds``: req/s, p50, p99 in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        n = i
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            call(n)
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(dt)
            n += clients

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "n": len(latencies),
    }


def start_server(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*FW, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=(data / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError((data / "serve.log").read_text()[-2000:])


def live_while_job(tmp: Path, analyzers: list[str], seconds: float) -> None:
    """(d): see the module doc."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.e2e.harness
    from prometheus_client import CollectorRegistry
    from tests.e2e.harness import ClipSpec, NginxRtmp, Publisher, encode_clip, wait_until

    from framewarden.config import Settings
    from framewarden.jobs.service import JobService
    from framewarden.jobs.spec import JobSpec
    from framewarden.moderator import Moderator
    from framewarden.pipeline.batcher import InferenceBatcher
    from framewarden.pipeline.channels import ChannelManager
    from framewarden.pipeline.context import MemoryResultSink, WorkerContext
    from framewarden.pipeline.metrics import PipelineMetrics
    from framewarden.pipeline.worker import ChannelState, percentile
    from framewarden.rules.models import Rule
    from framewarden.store.db import open_database

    settings = Settings(data_dir=tmp / "live", analyzers=analyzers, allow_file_sources=True)
    settings.ensure_data_dir()
    db = open_database(settings)
    moderator = Moderator(analyzers, settings=settings)
    batcher = InferenceBatcher(moderator, max_batch=8, max_wait_ms=2.0).start()
    sink = MemoryResultSink(per_channel=100_000)
    ctx = WorkerContext(batcher=batcher, results=sink, metrics=PipelineMetrics(CollectorRegistry()))
    rule = Rule(id="b", channel_pattern=".*", sample_interval_s=0.2, similarity={"enabled": False}, labels={})
    live_clip = encode_clip(ClipSpec("testsrc2", 640, 360, 25, 1.0, duration_s=30.0), tmp / "live.flv")
    job_clip = tmp / "job.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25:duration=120",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            str(job_clip),
        ],
        check=True,
    )
    rows = []
    with NginxRtmp(tmp / "nginx") as nginx:
        pub = Publisher(live_clip, nginx.rtmp_url("cam")).start()
        manager = ChannelManager(ctx, rules=[rule], settings=Settings())
        manager.add("cam", nginx.rtmp_url("cam"))
        try:
            wait_until(lambda: all(s.state is ChannelState.LIVE for s in manager.snapshots()), 60.0, 0.5)
            time.sleep(2.0)
            cases = (
                ("idle", 0, 1.0),
                ("job: 2-slot lane, share 0.5 (server default)", 2, 0.5),
                ("job: 2-slot lane, no share limit", 2, 1.0),
                ("job: 16 slots, no limit (~FIFO)", 16, 1.0),
            )
            for label, slots, share in cases:
                service = None
                if slots:
                    service = JobService(
                        db,
                        batcher,
                        settings,
                        server_analyzers=analyzers,
                        lane_slots=slots,
                        live_share=share,
                        live_active=lambda: True,
                    ).start()
                    service.submit(JobSpec(source=str(job_clip), sample_interval_s=0, dedup=False))
                    time.sleep(1.0)
                t0 = time.time()
                time.sleep(seconds)
                t1 = time.time()
                lat = sorted(r.latency_ms for r in sink if t0 <= r.decided_at <= t1)
                job_frames = 0
                if service is not None:
                    with db.read() as session:
                        from framewarden.store import jobs as repo

                        job = repo.list_jobs(session, limit=1).items[0]
                        job_frames = int((job.summary or {}).get("FramesAnalyzed", 0))
                    service.cancel(job.id)
                    service.close(10)
                rows.append((label, len(lat), percentile(lat, 50), percentile(lat, 99), job_frames))
        finally:
            manager.close(10)
            pub.close()
    batcher.close(10)
    db.close()
    base = rows[0][3] or 1.0
    print(f"\n## Live channel (640x360@25, 5 fps analyzed) frame latency, {seconds:g} s windows")
    print(f"| while | live frames | p50 ms | p99 ms | p99 / idle | job frames in {seconds:g} s |")
    print("|---|---|---|---|---|---|")
    for label, n, p50, p99, jf in rows:
        print(f"| {label} | {n} | {p50 or 0:.0f} | {p99 or 0:.0f} | {(p99 or 0) / base:.2f} | {jf} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="Duration of each load point.")
    parser.add_argument("--analyzers", default="nudenet")
    parser.add_argument("--video-seconds", type=int, default=20)
    parser.add_argument("--sample-interval", type=float, default=0.2)
    parser.add_argument("--only-live", action="store_true", help="Run only (d).")
    args = parser.parse_args()
    analyzers = args.analyzers.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="fw-bench-rek-"))
    env = {
        **os.environ,
        "FRAMEWARDEN_DATA_DIR": str(tmp / "data"),
        "FRAMEWARDEN_ANALYZERS": json.dumps(analyzers),
        "FRAMEWARDEN_ALLOW_FILE_SOURCES": "true",
        "FRAMEWARDEN_IMAGE_RATE_LIMIT_PER_MINUTE": "10000000",
        "FRAMEWARDEN_ALERT_ESCALATION_S": "0",
    }
    (tmp / "data").mkdir()
    if args.only_live:
        live_while_job(tmp, analyzers, max(args.seconds, 8.0))
        return
    run = lambda *a: subprocess.run([*FW, *a], env=env, capture_output=True, check=True, text=True).stdout  # noqa: E731
    aws = json.loads(run("keys", "create", "--aws", "--role", "admin", "--json"))
    bearer = {
        "Authorization": "Bearer " + json.loads(run("keys", "create", "--role", "admin", "--json"))["key"]
    }
    pics = images()
    proc, url = start_server(tmp / "data", env)
    print(
        f"# bench/rekognition.py: analyzers={analyzers}, {args.seconds:g} s per point, "
        "CPU shared (ratios only)"
    )
    try:
        # --- (a) images --------------------------------------------------------------
        from framewarden.config import Settings
        from framewarden.media.frame import Frame
        from framewarden.media.image import load_image
        from framewarden.moderator import Moderator
        from framewarden.pipeline.batcher import InferenceBatcher

        moderator = Moderator(analyzers, settings=Settings(data_dir=tmp / "data"))
        batcher = InferenceBatcher(moderator, max_batch=8, max_wait_ms=2.0).start()
        decoded = [load_image(p).rgb for p in pics]
        local = threading.local()

        def rek_client() -> Any:
            if not hasattr(local, "rek"):
                local.rek = boto3.client(
                    "rekognition",
                    endpoint_url=url,
                    region_name="us-east-1",
                    aws_access_key_id=aws["AccessKeyId"],
                    aws_secret_access_key=aws["SecretAccessKey"],
                    config=Config(max_pool_connections=32, retries={"max_attempts": 1}),
                )
            return local.rek

        def http_client() -> httpx.Client:
            if not hasattr(local, "http"):
                local.http = httpx.Client(base_url=url, headers=bearer, timeout=60)
            return local.http

        def via_boto3(i: int) -> None:
            rek_client().detect_moderation_labels(Image={"Bytes": pics[i % len(pics)]})

        def via_rest(i: int) -> None:
            r = http_client().post(
                "/v1/images:moderate", content=pics[i % len(pics)], headers={"Content-Type": "image/jpeg"}
            )
            r.raise_for_status()

        def in_process(i: int) -> None:
            frame = Frame(channel=f"b{i}", seq=0, pts_ms=0.0, image=decoded[i % len(decoded)])
            batcher.submit(frame).result()

        for warm in (via_boto3, via_rest, in_process):
            warm(0)
        print("\n## DetectModerationLabels (640x480 JPEG)")
        print(
            "| clients | boto3 req/s | p50 ms | p99 ms | REST req/s | p50 | p99 "
            "| in-process req/s | p50 | p99 "
            "| boto3/REST | boto3/in-process |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for clients in (1, 4, 16):
            b = load(via_boto3, clients, args.seconds)
            r = load(via_rest, clients, args.seconds)
            m = load(in_process, clients, args.seconds)
            print(
                f"| {clients} | {b['rps']:.1f} | {b['p50']:.0f} | {b['p99']:.0f} "
                f"| {r['rps']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} "
                f"| {m['rps']:.1f} | {m['p50']:.0f} | {m['p99']:.0f} | {b['rps'] / r['rps']:.2f} "
                f"| {b['rps'] / m['rps']:.2f} |"
            )
        batcher.close(10)
        moderator.close()

        # --- (b) video job vs framewarden scan ----------------------------------------------
        clip = tmp / "clip.mp4"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size=640x360:rate=25:duration={args.video_seconds}",
                "-pix_fmt",
                "yuv420p",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "25",
                str(clip),
            ],
            check=True,
        )
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                *FW,
                "scan",
                str(clip),
                "--sample-interval",
                str(args.sample_interval),
                "--out",
                str(tmp / "scan"),
                "--quiet",
                "--no-dedup",
                "--analyzers",
                args.analyzers,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        scan_wall = time.perf_counter() - t0
        body = json.loads(next((tmp / "scan").glob("clip*.json")).read_text())
        scan_fps = body["Summary"]["FramesAnalyzed"] / body["Summary"]["WallSeconds"]
        del out
        http = httpx.Client(base_url=url, headers=bearer, timeout=60)
        spec = {"source": str(clip), "sample_interval_s": args.sample_interval, "dedup": False}
        job_id = http.post("/v1/jobs", json=spec).json()["id"]
        t_submit = time.perf_counter()
        # --- (c) live-priority latency while the job runs, then idle -----------------------
        busy = load(via_rest, 1, args.seconds)
        while (job := http.get(f"/v1/jobs/{job_id}").json())["status"] not in {"succeeded", "failed"}:
            time.sleep(0.1)
        job_wall = time.perf_counter() - t_submit
        from datetime import datetime

        run_s = (
            datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
        ).total_seconds()
        job_fps = job["summary"]["FramesAnalyzed"] / run_s
        # the same job alone (no image load beside it)
        alone_id = http.post("/v1/jobs", json=spec).json()["id"]
        while (alone := http.get(f"/v1/jobs/{alone_id}").json())["status"] not in {"succeeded", "failed"}:
            time.sleep(0.1)
        alone_s = (
            datetime.fromisoformat(alone["finished_at"]) - datetime.fromisoformat(alone["started_at"])
        ).total_seconds()
        alone_fps = alone["summary"]["FramesAnalyzed"] / alone_s
        idle = load(via_rest, 1, args.seconds)
        print(
            f"\n## Video job, {args.video_seconds} s 640x360 clip, "
            f"sample interval {args.sample_interval:g} s, no dedup"
        )
        print(
            f"- framewarden scan: {body['Summary']['FramesAnalyzed']} frames, {scan_fps:.1f} frames/s "
            f"(process wall {scan_wall:.1f} s incl. model load)"
        )
        print(
            f"- job alone: {alone['summary']['FramesAnalyzed']} frames, {alone_fps:.1f} frames/s "
            f"-> job/scan = {alone_fps / scan_fps:.2f}"
        )
        print(f"- job beside 1 image client: {job_fps:.1f} frames/s (submit to done {job_wall:.1f} s)")
        print("\n## Live-priority path (image push, 1 client) while the job runs vs idle")
        print(f"- idle: p50 {idle['p50']:.0f} ms, p99 {idle['p99']:.0f} ms ({idle['n']} requests)")
        print(
            f"- job running: p50 {busy['p50']:.0f} ms, p99 {busy['p99']:.0f} ms ({busy['n']} requests) "
            f"-> p99 ratio {busy['p99'] / idle['p99']:.2f}"
        )
    finally:
        proc.terminate()
        proc.wait(30)
    live_while_job(tmp, analyzers, max(args.seconds, 8.0))


if __name__ == "__main__":
    main()
