"""The Ray engine's cost and scaling, side by side with the local engine, plus a projection.

1. Overhead: the same scan (720p clips, every frame; and 1 frame/s of a 10 s GOP) with the
   local engine and with the Ray engine on a running one-node cluster of this machine, each
   in a fresh process (as ``framewarden scan`` runs), back to back, alternating which goes
   first.  Each engine scans ``--videos`` clips, then twice as many, so that the fixed cost
   of a scan and the cost of each frame separate.  Figures, honestly labelled:

   - total fps: analyzed frames / wall time of the whole process, for the larger scan
     (imports, connecting, actor start and model load included);
   - start-up s: from the process's start until every model is loaded where it will run
     (local: in the process; Ray: connected, and every inference actor loaded); measured;
   - steady fps: the marginal rate, extra frames / extra wall time of the larger scan over
     the smaller one (what a long scan converges to);
   - CPU ms/frame: CPU time of the whole process tree (the scan's process and, for Ray, the
     cluster's raylet, GCS, agents and workers) / analyzed frames, for the larger scan;
     and its marginal form (extra CPU / extra frames), with the fixed CPU cost of a scan
     that this implies.  CPU time is the load-independent figure: wall time is noisy on a
     shared machine.

   Ratios are ray / local (goal >= 0.9 for the frame rates).
2. Scaling: a ``ray.cluster_utils.Cluster`` of 1 node, then 2 nodes, of 1 CPU each, on this
   machine (both "nodes" share its cores, so this measures the engine's ability to use a
   second node, not a second machine's speed).
3. Projection from the measured CPU cost of one analyzed 720p frame: nodes for 100 and
   1,000 live channels at 1 frame/s, and for 1 million 60-second videos a day, and the
   cost per 1,000 frames at an assumed cloud CPU price beside the cloud API's USD 1.00.

    python bench/ray_scan.py [--seconds 10] [--videos 4] [--repeat 1] [--analyzers nudenet]
                             [--vcpu-hour-usd 0.04] [--skip-scaling] [--verbose]
                             [--mode nodes|tasks] [--cases every,1fps]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray on loopback only
# ray.cluster_utils gives each node a 150 MiB object store (a test default), which frames of
# 720p (2.7 MB each, up to 32 in flight per task) overflow into disk spilling; `ray start`
# gives a node 30% of its memory.  2 GiB per node is closer to a real node.
OBJECT_STORE = 2 * 1024**3


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


def child(args: argparse.Namespace) -> None:
    """One scan in this (fresh) process, as ``framewarden scan`` runs it; prints its timings."""
    started = psutil.Process().create_time()
    from framewarden.config import get_settings
    from framewarden.jobs.scan import Scanner, ScanOptions, analyzer_intervals_ms
    from framewarden.jobs.state import ScanState
    from framewarden.moderator import Moderator
    from framewarden.pipeline.context import preferred_max_side

    names = args.analyzers.split(",")
    settings = get_settings()
    state = ScanState(Path(args.out))
    scanner: Any
    dispatch = None
    if args.child == "ray":  # as the CLI does: the actors load their models while this process does
        from framewarden.engines.ray_scan import RayOptions, prestart

        ray_options = RayOptions(address=args.address, mode=args.mode)
        dispatch = prestart(ray_options, names, settings, None)
    moderator = Moderator(names, settings=settings)  # in both: the CLI loads it for the versions
    ready = time.time()
    options = ScanOptions(sample_interval_s=args.interval, dedup=False, workers=2,
                          max_side=preferred_max_side(moderator.analyzers))  # fmt: skip
    if args.child == "local":
        scanner = Scanner(moderator, options, state, settings=settings,
                          model_versions=moderator.model_versions,
                          min_confidence=moderator.min_confidence)  # fmt: skip
    else:
        from framewarden.engines.ray_scan import RayScanner

        scanner = RayScanner(names, options, state, settings, ray_options=ray_options, dispatch=dispatch,
                             model_versions=moderator.model_versions,
                             min_confidence=moderator.min_confidence,
                             intervals_ms=analyzer_intervals_ms(moderator.analyzers))  # fmt: skip
    outcomes = scanner.run(args.clips)
    done = time.time()
    ready = getattr(scanner, "ready_at", None) or ready  # Ray: when its actors had loaded
    analyzed = sum(int(o.body["Summary"]["FramesAnalyzed"]) for o in outcomes)
    print(json.dumps({"analyzed": analyzed, "total_s": done - started, "startup_s": ready - started}))


class _TreeCpu:
    """CPU seconds of a set of process trees over a run, polled (processes that exit between
    two polls lose at most one interval)."""

    def __init__(self, roots: list[int], period_s: float = 0.1) -> None:
        self.roots, self.period_s = roots, period_s
        self.names: dict[int, str] = {}
        self.base = self._sample()
        self.seen = dict(self.base)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _sample(self) -> dict[int, float]:
        out = {}
        for root in self.roots:
            try:
                procs = [psutil.Process(root)]
                procs += procs[0].children(recursive=True)
            except psutil.Error:
                continue
            for p in procs:
                try:
                    t = p.cpu_times()
                    out[p.pid] = t.user + t.system
                    cmd = p.cmdline()
                    if p.pid not in self.names or (
                        cmd[:1] and cmd[0].startswith("ray::") and "IDLE" not in cmd[0]
                    ):
                        self.names[p.pid] = " ".join(
                            cmd[:1]
                            if cmd[:1] and cmd[0].startswith("ray::")
                            else [os.path.basename(c) for c in cmd[:2]]
                        )[:40]
                except psutil.Error:
                    pass
        return out

    def _poll(self) -> None:
        while not self._stop.wait(self.period_s):
            self.seen.update(self._sample())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.seen.update(self._sample())
        return sum(self.by_process().values())

    def by_process(self) -> dict[str, float]:
        """CPU seconds over the run by process name (workers of one kind summed)."""
        out: dict[str, float] = {}
        for pid, cpu in self.seen.items():
            name = self.names.get(pid, str(pid))
            out[name] = out.get(name, 0.0) + cpu - self.base.get(pid, 0.0)
        return out


def _child_env() -> dict[str, str]:
    """The scan's environment, as a user's: no PYTHONPATH when framewarden is installed (an
    editable install too), since a driver that passes one makes Ray start new workers."""
    from importlib import metadata

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    try:
        metadata.distribution("framewarden")
    except metadata.PackageNotFoundError:
        env["PYTHONPATH"] = str(REPO / "src")
    return env


def run_child(
    clips: list[str],
    out: Path,
    engine: str,
    interval: float,
    analyzers: str,
    address: str,
    cluster_pids: list[int],
    verbose: bool = False,
    mode: str = "nodes",
) -> dict[str, float]:
    """One scan in a fresh process: its timeline, its CPU (and the cluster's, for Ray)."""
    cmd = [sys.executable, __file__, "--child", engine, "--interval", str(interval), "--analyzers", analyzers,
           "--address", address, "--out", str(out), "--mode", mode, *clips]  # fmt: skip
    tree = _TreeCpu(cluster_pids if engine == "ray" else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=_child_env())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)  # the scan's process
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu_s"] = own + tree.stop()
    if verbose and engine == "ray":
        parts = sorted(tree.by_process().items(), key=lambda kv: -kv[1])
        cells = ", ".join(f"{name} {cpu:.1f}" for name, cpu in parts if cpu >= 0.05)
        print(f"    CPU s: driver {own:.1f}, {cells}", flush=True)
    result["fps"] = result["analyzed"] / result["total_s"]
    result["cpu_ms_per_frame"] = 1000 * result["cpu_s"] / result["analyzed"]
    return result


def _marginal(small: dict[str, float], large: dict[str, float]) -> dict[str, float]:
    """Per-frame figures of the larger scan over the smaller one, and the fixed cost they imply."""
    frames = large["analyzed"] - small["analyzed"]
    wall = large["total_s"] - small["total_s"]
    cpu_per_frame = (large["cpu_s"] - small["cpu_s"]) / frames
    return {
        "steady_fps": frames / wall if wall > 0 else float("nan"),
        "marginal_cpu_ms": 1000 * cpu_per_frame,
        "fixed_cpu_s": small["cpu_s"] - small["analyzed"] * cpu_per_frame,
    }


def overhead(clips: list[str], root: Path, args: argparse.Namespace) -> list[tuple[str, float]]:
    """The overhead table; returns the local engine's marginal CPU seconds per frame per case."""
    from ray.cluster_utils import Cluster

    # A running one-node cluster (as a user with a cluster has): starting it is not the scan's
    # cost, but its processes' CPU during the scan is.
    head = Cluster(
        initialize_head=True,
        head_node_args={
            "node_ip_address": "127.0.0.1",
            "num_cpus": os.cpu_count(),
            "include_dashboard": False,
            "object_store_memory": OBJECT_STORE,
        },
    )
    small_set, large_set = clips[: len(clips) // 2], clips
    cpu_per_frame = []
    try:
        cluster_pids = [p.pid for p in psutil.Process().children()]  # raylet, GCS, ... (workers below them)
        print(f"Ray mode: {args.mode}")
        print(f"{'case':<22}{'engine':<7}{'total fps':>10}{'start-up s':>11}{'steady fps':>11}"
              f"{'CPU ms/frame':>13}{'marginal':>9}{'fixed CPU s':>12}")  # fmt: skip
        rows: dict[str, dict[str, list[dict[str, float]]]] = {}
        cases = {"every": ("every frame", 0.0), "1fps": ("1 frame/s (10 s GOP)", 1.0)}
        for name, interval in (cases[c] for c in args.cases.split(",")):
            runs = rows.setdefault(name, {"local": [], "ray": []})
            for i in range(args.repeat):
                order = ("local", "ray") if i % 2 == 0 else ("ray", "local")
                for engine in order:
                    r = {}
                    for size, subset in (("s", small_set), ("l", large_set)):
                        out = root / f"{engine}-{interval}-{i}-{size}"
                        r[size] = run_child(subset, out, engine, interval, args.analyzers, head.address,
                                            cluster_pids, args.verbose, args.mode)  # fmt: skip
                    row = {**r["l"], **_marginal(r["s"], r["l"])}
                    runs[engine].append(row)
                    print(f"{name:<22}{engine:<7}{row['fps']:>10.1f}{row['startup_s']:>11.2f}"
                          f"{row['steady_fps']:>11.1f}{row['cpu_ms_per_frame']:>13.1f}"
                          f"{row['marginal_cpu_ms']:>9.1f}{row['fixed_cpu_s']:>12.1f}",
                          flush=True)  # fmt: skip
                assert runs["local"][-1]["analyzed"] == runs["ray"][-1]["analyzed"]
            local_cpu = statistics.median(r["marginal_cpu_ms"] / 1000 for r in runs["local"])
            cpu_per_frame.append((name, local_cpu))
        print("\nray / local, median of the pairs (CPU: < 1 is cheaper; start-up, fixed CPU: ray - local):")
        print(f"  {'case':<22}{'total fps':>10}{'steady fps':>11}{'CPU/frame':>10}{'marginal':>9}"
              f"{'start-up s':>11}{'fixed CPU s':>12}")  # fmt: skip
        for name, runs in rows.items():
            pairs = list(zip(runs["ray"], runs["local"], strict=True))

            def med(key: str, diff: bool = False, pairs: list[Any] = pairs) -> float:
                return statistics.median(r[key] - loc[key] if diff else r[key] / loc[key] for r, loc in pairs)

            print(f"  {name:<22}{med('fps'):>10.2f}{med('steady_fps'):>11.2f}{med('cpu_ms_per_frame'):>10.2f}"
                  f"{med('marginal_cpu_ms'):>9.2f}{med('startup_s', True):>+11.2f}"
                  f"{med('fixed_cpu_s', True):>+12.1f}")  # fmt: skip
    finally:
        head.shutdown()
    return cpu_per_frame


def cluster_scan(
    clips: list[str], out: Path, nodes: int, interval: float, analyzers: list[str], mode: str
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
        initialize_head=True,
        head_node_args={
            **loop,
            "num_cpus": 1,
            "include_dashboard": False,
            "object_store_memory": OBJECT_STORE,
        },
    )
    for _ in range(nodes - 1):
        cluster.add_node(**loop, num_cpus=1, object_store_memory=OBJECT_STORE)
    cluster.wait_for_nodes()
    os.environ["PYTHONPATH"] = os.pathsep.join(sys.path)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        settings = get_settings()
        versions = Moderator(analyzers, settings=settings).model_versions
        options = ScanOptions(sample_interval_s=interval, dedup=False)
        scanner = RayScanner(analyzers, options, ScanState(out), settings, ray_options=RayOptions(mode=mode),
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
    ap.add_argument("--seconds", type=int, default=10, help="length of each clip")
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=1, help="local/ray pairs per case (order alternates)")
    ap.add_argument("--analyzers", default="nudenet")
    ap.add_argument("--vcpu-hour-usd", type=float, default=0.04, help="assumed cloud price of one vCPU-hour")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--cases", default="every,1fps", help="every, 1fps (the projection needs both)")
    ap.add_argument("--mode", choices=("nodes", "tasks"), default="nodes", help="RayOptions.mode")
    ap.add_argument("--verbose", action="store_true", help="CPU of each Ray process kind per run")
    ap.add_argument("--child", choices=("local", "ray"), help=argparse.SUPPRESS)
    ap.add_argument("--interval", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--address", default="", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    ap.add_argument("clips", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        long_gop = make_clips(root, args.seconds, args.videos, gop=250)
        print(f"{args.videos} clips of {args.seconds} s, 720p25, analyzers {args.analyzers}; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        cpu_per_frame = overhead(long_gop, root, args)
        if not args.skip_scaling:
            names = args.analyzers.split(",")
            one = cluster_scan(long_gop, root / "n1", 1, 0.0, names, args.mode)
            two = cluster_scan(long_gop, root / "n2", 2, 0.0, names, args.mode)
            gain = two["fps"] / one["fps"]
            print(
                f"\nscaling, every frame, nodes of 1 CPU: 1 node {one['fps']:.1f} fps, "
                f"2 nodes {two['fps']:.1f} fps: {gain:.2f}x (efficiency {gain / 2:.0%})"
            )
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
        if len(cpu_per_frame) == 2:
            projection(cpu_per_frame, args.vcpu_hour_usd)


def projection(cpu_per_frame: list[tuple[str, float]], vcpu_hour_usd: float) -> None:
    every_cpu = cpu_per_frame[0][1]
    sampled_cpu = cpu_per_frame[1][1]  # decode of a 10 s GOP at 25 fps included
    print(f"\nCPU per analyzed 720p frame: every frame {every_cpu * 1000:.0f} ms, "
          f"1 frame/s with full decode {sampled_cpu * 1000:.0f} ms")  # fmt: skip
    usable = 0.8  # keep a node at 80% to hold live latency
    print("\nprojection (CPU cores at 80% use; a node = 1 core; decode cost as measured):")
    for channels in (100, 1000):
        # At 1 frame/s, keyframes 2 s apart or more mean every frame is decoded: the 10 s GOP
        # case's cost (25 decodes per analyzed frame at 25 fps). Keyframes 1 s apart mean one
        # decode and one inference per analyzed frame: about the every-frame case's cost.
        long_gop_cores = channels * sampled_cpu / usable
        short_gop_cores = channels * every_cpu / usable
        print(
            f"  {channels:>5} channels at 1 frame/s: keyframes 2 s apart or more (every frame"
            f" decoded) {long_gop_cores:7.0f} cores; keyframe every 1 s (keyframes only)"
            f" ~{short_gop_cores:7.0f} cores"
        )
    frames_day = 1_000_000 * 60  # 1 frame/s of 60 s videos
    cores = frames_day * sampled_cpu / 86400 / usable
    print(f"  1 million 60 s videos/day at 1 frame/s: {frames_day:,} frames/day, {cores:.0f} cores")
    usd = sampled_cpu * 1000 / 3600 * vcpu_hour_usd
    print(f"\ncost per 1,000 frames here: USD {usd:.4f} at USD {vcpu_hour_usd}/vCPU-hour (assumed)"
          f" vs USD 1.00 on the cloud API: {1.0 / usd:,.0f}x cheaper")  # fmt: skip


if __name__ == "__main__":
    main()
