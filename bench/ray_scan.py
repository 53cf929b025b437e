"""The Ray engine's cost and scaling, side by side with the local engine, plus a projection.

1. Overhead: the same scan (720p clips, every frame; and 1 frame/s) with ``--engine local``
   and with ``--engine ray`` on a private one-node cluster of this machine, as whole
   processes run back to back: ratio of analyzed frames/s (goal >= 0.9).
2. Scaling: a ``ray.cluster_utils.Cluster`` of 1 node, then 2 nodes, of 1 CPU each, on this
   machine (both "nodes" share its cores, so this measures the engine's ability to use a
   second node, not a second machine's speed).
3. Projection from the measured CPU cost of one analyzed 720p frame: nodes for 100 and
   1,000 live channels at 1 frame/s, and for 1 million 60-second videos a day, and the
   cost per 1,000 frames at an assumed cloud CPU price beside the cloud API's USD 1.00.

    python bench/ray_scan.py [--seconds 20] [--videos 4] [--analyzers nudenet] [--vcpu-hour-usd 0.04]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray on loopback only


def make_clips(folder: Path, seconds: int, count: int, gop: int) -> list[str]:
    """720p25 clips with moving content (testsrc2), ``gop`` frames between keyframes."""
    clips = []
    for i in range(count):
        path = folder / f"clip{i}-g{gop}.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi",
             "-i", f"testsrc2=size=1280x720:rate=25:d={seconds}", "-vf", f"hue=h={i * 40}",
             "-c:v", "libx264", "-preset", "veryfast", "-g", str(gop), "-pix_fmt", "yuv420p", str(path)],
            check=True,
        )  # fmt: skip
        clips.append(str(path))
    return clips


def run_scan(
    clips: list[str], out: Path, engine: str, interval: float, analyzers: str, address: str | None = None
) -> dict[str, float]:
    extra = ["--address", address] if address else []
    cmd = [sys.executable, "-m", "framewarden.cli", "scan", *clips, "--engine", engine, *extra,
           "--sample-interval", str(interval), "--no-dedup", "--analyzers", analyzers,
           "--out", str(out), "-q"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO / "src")}
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    analyzed = sum(json.loads(p.read_text())["Summary"]["FramesAnalyzed"] for p in out.glob("*.json"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "analyzed": analyzed, "fps": analyzed / wall, "cpu_s": cpu}


def cluster_scan(
    clips: list[str], out: Path, nodes: int, interval: float, analyzers: list[str]
) -> dict[str, float]:
    import ray
    from ray.cluster_utils import Cluster

    from framewarden.config import get_settings
    from framewarden.engines.ray_scan import RayOptions, RayScanner
    from framewarden.jobs.scan import ScanOptions
    from framewarden.jobs.state import ScanState
    from framewarden.moderator import Moderator

    loop = {"node_ip_address": "127.0.0.1"}
    cluster = Cluster(
        initialize_head=True, head_node_args={**loop, "num_cpus": 1, "include_dashboard": False}
    )
    for _ in range(nodes - 1):
        cluster.add_node(**loop, num_cpus=1)
    cluster.wait_for_nodes()
    os.environ["PYTHONPATH"] = os.pathsep.join(sys.path)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        settings = get_settings()
        versions = Moderator(analyzers, settings=settings).model_versions
        options = ScanOptions(sample_interval_s=interval, dedup=False)
        scanner = RayScanner(analyzers, options, ScanState(out), settings, ray_options=RayOptions(),
                             model_versions=versions)  # fmt: skip
        t0 = time.perf_counter()
        outcomes = scanner.run(clips)
        wall = time.perf_counter() - t0
    finally:
        ray.shutdown()
        cluster.shutdown()
    analyzed = sum(o.body["Summary"]["FramesAnalyzed"] for o in outcomes)
    return {"wall_s": wall, "analyzed": analyzed, "fps": analyzed / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=20, help="length of each clip")
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--analyzers", default="nudenet")
    ap.add_argument("--vcpu-hour-usd", type=float, default=0.04, help="assumed cloud price of one vCPU-hour")
    ap.add_argument("--skip-scaling", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        long_gop = make_clips(root, args.seconds, args.videos, gop=250)
        print(
            f"{args.videos} clips of {args.seconds} s, 720p25, analyzers {args.analyzers}; 2-core machine\n"
        )
        print(f"{'case':<28}{'local fps':>10}{'ray fps':>10}{'ray/local':>10}")
        cpu_per_frame = []
        # A running one-node cluster (as a user with a cluster has): start-up is not the engine's cost.
        from ray.cluster_utils import Cluster

        head = Cluster(
            initialize_head=True,
            head_node_args={
                "node_ip_address": "127.0.0.1",
                "num_cpus": os.cpu_count(),
                "include_dashboard": False,
            },
        )
        try:
            for name, interval in (("every frame", 0.0), ("1 frame/s (10 s GOP)", 1.0)):
                local = run_scan(long_gop, root / f"l{interval}", "local", interval, args.analyzers)
                ray_ = run_scan(
                    long_gop, root / f"r{interval}", "ray", interval, args.analyzers, head.address
                )
                assert local["analyzed"] == ray_["analyzed"], (local, ray_)
                print(
                    f"{name:<28}{local['fps']:>10.1f}{ray_['fps']:>10.1f}{ray_['fps'] / local['fps']:>10.2f}"
                )
                cpu_per_frame.append((name, local["cpu_s"] / local["analyzed"]))
        finally:
            head.shutdown()
        if not args.skip_scaling:
            names = args.analyzers.split(",")
            one = cluster_scan(long_gop, root / "n1", 1, 0.0, names)
            two = cluster_scan(long_gop, root / "n2", 2, 0.0, names)
            gain = two["fps"] / one["fps"]
            print(
                f"\nscaling, every frame, nodes of 1 CPU: 1 node {one['fps']:.1f} fps, "
                f"2 nodes {two['fps']:.1f} fps: {gain:.2f}x (efficiency {gain / 2:.0%})"
            )
        every_cpu = cpu_per_frame[0][1]
        sampled_cpu = cpu_per_frame[1][1]  # decode of a 10 s GOP at 25 fps included
        print(f"\nCPU per analyzed 720p frame: every frame {every_cpu * 1000:.0f} ms, "
              f"1 frame/s with full decode {sampled_cpu * 1000:.0f} ms")  # fmt: skip
        usable = 0.8  # keep a node at 80% to hold live latency
        print("\nprojection (CPU cores at 80% use; a node = 1 core; decode cost as measured):")
        for channels in (100, 1000):
            long_gop_cores = channels * sampled_cpu / usable
            short_gop_cores = channels * every_cpu / usable
            print(
                f"  {channels:>5} channels at 1 frame/s: long GOP (full decode) {long_gop_cores:7.0f} cores;"
                f" keyframe every 1-2 s (keyframe-only decode) ~{short_gop_cores:7.0f} cores"
            )
        frames_day = 1_000_000 * 60  # 1 frame/s of 60 s videos
        cores = frames_day * sampled_cpu / 86400 / usable
        print(f"  1 million 60 s videos/day at 1 frame/s: {frames_day:,} frames/day, {cores:.0f} cores")
        usd = sampled_cpu * 1000 / 3600 * args.vcpu_hour_usd
        print(f"\ncost per 1,000 frames here: USD {usd:.4f} at USD {args.vcpu_hour_usd}/vCPU-hour (assumed)"
              f" vs USD 1.00 on the cloud API: {1.0 / usd:,.0f}x cheaper")  # fmt: skip


if __name__ == "__main__":
    main()
