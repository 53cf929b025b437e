"""The server's video jobs on Ray against the same jobs in the API process, side by side.

Each engine runs in a fresh ``Runtime`` (the server's own start-up) in a child process, in
turn, alternating the order: ``local`` (jobs in the API process), ``ray/actors`` (each job's
video decoded inside an inference actor, the default ``jobs_ray_mode``) and ``ray/tasks``
(decoded in a Ray task of its own that sends the frames to the actors), on a running
one-node cluster of this machine.  A warm-up job runs first (a server pays the cluster's
start-up once, not per job); then ``--videos`` 720p25 clips are submitted at once with
``job_workers = 2`` and timed until the last one succeeds.

Figures: jobs' frames/s (analyzed frames / wall time from the first submit to the last
success) and CPU ms per analyzed frame (the child's process and, for Ray, the cluster's
raylet, GCS and workers), with ratios against ``local`` from the same round.

    python bench/ray_jobs.py [--seconds 10] [--videos 4] [--repeat 1] [--analyzers nudenet]
                             [--cases every,1fps] [--engines local,actors,tasks]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ray_scan import OBJECT_STORE, _child_env, _TreeCpu, make_clips

ENGINES = {"local": ("local", "actors"), "actors": ("ray", "actors"), "tasks": ("ray", "tasks")}


def child(args: argparse.Namespace) -> None:
    """One engine's round in this (fresh) process: a warm-up job, then the timed batch."""
    from framewarden.api.runtime import Runtime
    from framewarden.config import Settings
    from framewarden.jobs.spec import JobSpec
    from framewarden.store import jobs as jobs_repo

    engine, mode = ENGINES[args.child]
    settings = Settings(
        data_dir=Path(args.out),
        analyzers=args.analyzers.split(","),
        allow_file_sources=True,
        alert_escalation_s=0,
        job_workers=2,
        jobs_engine=engine,  # type: ignore[arg-type]
        jobs_ray_mode=mode,  # type: ignore[arg-type]
        ray_address=args.address,
    )
    runtime = Runtime(settings).start()

    def run(clips: list[str]) -> tuple[float, int]:
        started = time.perf_counter()
        ids = [
            runtime.jobs.submit(JobSpec(source=c, sample_interval_s=args.interval, dedup=False))[0].id
            for c in clips
        ]
        while True:
            with runtime.db.read() as session:
                jobs = [jobs_repo.get_job(session, job_id=i) for i in ids]
                states = [j.status for j in jobs if j is not None]
                if all(s in jobs_repo.FINAL_STATUSES for s in states) and len(states) == len(ids):
                    failed = [j.error for j in jobs if j is not None and j.status != "succeeded"]
                    assert not failed, failed
                    frames = sum(
                        int((j.summary or {}).get("FramesAnalyzed", 0)) for j in jobs if j is not None
                    )
                    return time.perf_counter() - started, frames
            time.sleep(0.05)

    try:
        run(args.clips[:1])  # warm-up: joins the cluster, starts the actors, loads the models
        cpu0 = time.process_time()
        print(json.dumps({"ready": True}), flush=True)
        wall, frames = run(args.clips[1:])
        print(
            json.dumps({"wall_s": wall, "frames": frames, "own_cpu_s": time.process_time() - cpu0}),
            flush=True,
        )
    finally:
        runtime.stop()


def run_child(
    engine: str, clips: list[str], out: Path, args: argparse.Namespace, cluster_pids: list[int]
) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", engine, "--interval", str(args.interval),
           "--analyzers", args.analyzers, "--address", args.address, "--out", str(out), *clips]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=_child_env())
    assert proc.stdout is not None
    tree: _TreeCpu | None = None
    result: dict[str, float] = {}
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message.get("ready"):  # timed from here: the batch, not the warm-up
            tree = _TreeCpu(cluster_pids if ENGINES[engine][0] == "ray" else [])
        else:
            result = message
    assert proc.wait() == 0, f"{engine} failed"
    cluster_cpu = tree.stop() if tree is not None else 0.0
    result["cpu_s"] = result["own_cpu_s"] + cluster_cpu
    result["fps"] = result["frames"] / result["wall_s"]
    result["cpu_ms_per_frame"] = 1000 * result["cpu_s"] / result["frames"]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="length of each clip")
    ap.add_argument("--videos", type=int, default=4, help="clips in the timed batch (one more warms up)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds per case (the order of engines alternates)")
    ap.add_argument("--analyzers", default="nudenet")
    ap.add_argument("--cases", default="every,1fps")
    ap.add_argument("--engines", default="local,actors,tasks")
    ap.add_argument("--child", choices=tuple(ENGINES), help=argparse.SUPPRESS)
    ap.add_argument("--interval", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--address", default="", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    ap.add_argument("clips", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    from ray.cluster_utils import Cluster

    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clips = make_clips(root, args.seconds, args.videos + 1, gop=250)
        print(f"{args.videos} jobs of {args.seconds} s 720p25 clips (+1 warm-up), {args.analyzers}; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        head = Cluster(
            initialize_head=True,
            head_node_args={"node_ip_address": "127.0.0.1", "num_cpus": os.cpu_count(),
                            "include_dashboard": False, "object_store_memory": OBJECT_STORE},
        )  # fmt: skip
        args.address = head.address
        try:
            cluster_pids = [p.pid for p in psutil.Process().children()]
            print(f"{'case':<10}{'round':>6}  {'engine':<8}{'jobs fps':>9}{'CPU ms/frame':>13}"
                  f"{'fps / local':>12}{'CPU / local':>12}")  # fmt: skip
            ratios: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for case, interval in (
                c for c in (("every", 0.0), ("1fps", 1.0)) if c[0] in args.cases.split(",")
            ):
                args.interval = interval
                for i in range(args.repeat):
                    order = engines if i % 2 == 0 else engines[::-1]
                    rows = {
                        e: run_child(e, clips, root / f"{case}-{i}-{e}", args, cluster_pids) for e in order
                    }
                    assert len({r["frames"] for r in rows.values()}) == 1, {
                        e: r["frames"] for e, r in rows.items()
                    }
                    base = rows.get("local")
                    for e in engines:
                        r = rows[e]
                        fr = r["fps"] / base["fps"] if base else float("nan")
                        cr = r["cpu_ms_per_frame"] / base["cpu_ms_per_frame"] if base else float("nan")
                        ratios.setdefault((case, e), []).append((fr, cr))
                        print(f"{case:<10}{i + 1:>6}  {e:<8}{r['fps']:>9.1f}{r['cpu_ms_per_frame']:>13.1f}"
                              f"{fr:>12.2f}{cr:>12.2f}", flush=True)  # fmt: skip
            print("\nmedians against local (fps: > 1 is faster; CPU: < 1 is cheaper):")
            for (case, e), values in ratios.items():
                if e != "local":
                    print(f"  {case:<6} {e:<8} fps {statistics.median(v[0] for v in values):.2f}x, "
                          f"CPU per frame {statistics.median(v[1] for v in values):.2f}x")  # fmt: skip
        finally:
            head.shutdown()
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
