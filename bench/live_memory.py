"""Memory per live channel on ``--engine ray``: each actor with its own models, or one set per node.

Starts a private one-node Ray cluster, places N channels playing the bundled demo clip
(``demo:``, no streaming server needed) through :class:`RayChannelManager`, first with each
channel actor loading its own models, then with ``ray_live_shared_inference`` (one inference
actor per node), waits until every channel has analyzed frames, and sums the resident (RSS)
and unique (USS: pages no other process shares) memory of the actor processes involved.  Then,
over ``--measure`` seconds, the CPU time of those processes per analyzed frame (decode included;
load-independent, unlike wall time), to show what sending frames to another process costs.

    python bench/live_memory.py --channels 4 --analyzers nudenet [--measure 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, before `import ray`

import psutil
import ray
from prometheus_client import CollectorRegistry

from framewarden.config import Settings
from framewarden.engines.ray_live import RayChannelManager
from framewarden.events import EventBus
from framewarden.pipeline.context import WorkerContext
from framewarden.pipeline.metrics import PipelineMetrics
from framewarden.store.db import open_database

MB = 1024 * 1024


def memory(pids: list[int]) -> tuple[float, float]:
    """(RSS, USS) in MB summed over ``pids``."""
    rss = uss = 0.0
    for pid in pids:
        info = psutil.Process(pid).memory_full_info()
        rss += info.rss / MB
        uss += info.uss / MB
    return rss, uss


def cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def analyzed(manager: RayChannelManager) -> int:
    return sum(int(s.stats.get("analyzed") or 0) for s in manager.snapshots())


def run(
    channels: int, analyzers: list[str], shared: bool, root: Path, timeout_s: float, measure_s: float
) -> dict[str, Any]:
    settings = Settings(
        data_dir=root / ("shared" if shared else "own"),
        analyzers=analyzers,
        engine="ray",
        ray_live_shared_inference=shared,
        allowed_source_schemes=["demo"],  # the bundled clip, played as a live stream
    )
    open_database(settings, migrate=True).close()
    context = WorkerContext(batcher=None, events=EventBus(), metrics=PipelineMetrics(CollectorRegistry()))  # type: ignore[arg-type]
    manager = RayChannelManager(context, settings=settings)
    try:
        names = [f"mem-{i}" for i in range(channels)]
        for name in names:
            manager.add(name, "demo:")
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            snaps = manager.snapshots()
            if all(s.state.value == "live" and (s.stats.get("analyzed") or 0) > 2 for s in snaps):
                break
            time.sleep(1.0)
        else:
            raise SystemExit(f"channels not live after {timeout_s} s: {[s.state.value for s in snaps]}")
        actors = [manager._get(n).actor for n in names]
        channel_pids = ray.get([a.pid.remote() for a in actors])
        inference_pids = ray.get([a.pid.remote() for a in manager.inference.values()])
        shared_flags = [bool(s.stats.get("shared_inference")) for s in manager.snapshots()]
        assert all(f == shared for f in shared_flags), shared_flags
        pids = channel_pids + inference_pids
        rss, uss = memory(pids)
        cpu0, frames0 = cpu_s(pids), analyzed(manager)
        time.sleep(measure_s)
        cpu1, frames1 = cpu_s(pids), analyzed(manager)
        per_frame_ms = (cpu1 - cpu0) * 1000.0 / max(1, frames1 - frames0)
        return {
            "rss": rss,
            "uss": uss,
            "processes": len(pids),
            "cpu_ms": per_frame_ms,
            "frames": frames1 - frames0,
        }
    finally:
        manager.close(10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--analyzers", default="nudenet")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--measure", type=float, default=20.0, help="seconds of CPU time measurement")
    args = parser.parse_args()
    analyzers = [a for a in args.analyzers.split(",") if a]
    # Logical CPUs only: enough for every channel's reservation on this one node.
    ray.init(
        address="local",
        num_cpus=64,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )
    with tempfile.TemporaryDirectory() as tmp:
        own = run(args.channels, analyzers, False, Path(tmp), args.timeout, args.measure)
        shared = run(args.channels, analyzers, True, Path(tmp), args.timeout, args.measure)
    n = args.channels
    print(f"{n} channels, analyzers {','.join(analyzers)}, one node")
    print(
        "| models | processes | RSS MB total | RSS MB per channel | USS MB per channel | CPU ms per frame |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for label, m in (("own per channel", own), ("shared per node", shared)):
        print(
            f"| {label} | {m['processes']} | {m['rss']:.0f} | {m['rss'] / n:.0f} | {m['uss'] / n:.0f} "
            f"| {m['cpu_ms']:.1f} ({m['frames']} frames) |"
        )
    rss, uss = shared["rss"] / own["rss"], shared["uss"] / own["uss"]
    cpu = shared["cpu_ms"] / own["cpu_ms"]
    print(
        f"shared / own: memory per channel RSS {rss:.2f}x, USS {uss:.2f}x; CPU per analyzed frame {cpu:.2f}x"
    )
    ray.shutdown()


if __name__ == "__main__":
    main()
