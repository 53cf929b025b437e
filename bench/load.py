"""Load: N concurrent clients pushing images to a real ``framewarden serve`` on loopback.

Three phases against one server, so the figures are ratios taken side by side:

1. baseline: one client for a quarter of the duration (what one caller gets);
2. load: ``--clients`` clients for ``--duration`` seconds, more than the
   inference queue holds, so the server is pushed past its capacity;
3. recovery: one client again, once the load has stopped.

Printed: throughput (answers 200 per second), p50/p99 latency of answers 200
and of refusals (429/503), and counts by status.  What must hold (exit status
1 otherwise): no 5xx but 503, no connection errors, refusals fast (their p50
under half the p50 of the requests served meanwhile: a refusal costs no
decoding and no inference), and recovery (its p50 within 3x the baseline's).

    python bench/load.py [--clients 64] [--duration 60] [--queue 16] [--analyzers nudenet]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.serve_process import ServeProcess  # noqa: E402

ENDPOINT = "/v1/images:moderate"


@dataclass
class Phase:
    name: str
    clients: int
    seconds: float = 0.0
    by_status: collections.Counter[str] = field(default_factory=collections.Counter)
    ok_ms: list[float] = field(default_factory=list)
    refused_ms: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.ok_ms) / self.seconds if self.seconds else 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sample_jpeg(side: int = 640) -> bytes:
    """A JPEG with some structure (gradients and noise), the size of a typical pushed frame."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:side, 0:side]
    img = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.int16)
    img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=85)
    return buf.getvalue()


async def client(http: httpx.AsyncClient, body: bytes, key: str, until: float, phase: Phase) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"}
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            r = await http.post(ENDPOINT, content=body, headers=headers)
        except httpx.HTTPError as exc:
            phase.by_status[type(exc).__name__] += 1
            await asyncio.sleep(0.05)
            continue
        ms = (time.perf_counter() - t0) * 1000.0
        phase.by_status[str(r.status_code)] += 1
        if r.status_code == 200:
            phase.ok_ms.append(ms)
        elif r.status_code in (429, 503):
            phase.refused_ms.append(ms)
            # A polite client honours Retry-After; a hostile one would not: keep pushing, a bit spaced.
            await asyncio.sleep(0.01)


async def run_phase(url: str, key: str, name: str, clients: int, seconds: float, body: bytes) -> Phase:
    phase = Phase(name, clients)
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        t0 = time.monotonic()
        until = t0 + seconds
        await asyncio.gather(*(client(http, body, key, until, phase) for _ in range(clients)))
        phase.seconds = time.monotonic() - t0
    return phase


def report(phases: list[Phase], base: Phase) -> None:
    print(f"{'phase':<10} {'clients':>7} {'ok/s':>7} {'x base':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'refused p50':>11} {'refused p99':>11}  by status")  # fmt: skip
    for p in phases:
        ratio = p.throughput / base.throughput if base.throughput else float("nan")
        print(
            f"{p.name:<10} {p.clients:>7} {p.throughput:7.1f} {ratio:7.2f} "
            f"{pct(p.ok_ms, 0.5):8.0f} {pct(p.ok_ms, 0.99):8.0f} {pct(p.refused_ms, 0.5):11.0f} "
            f"{pct(p.refused_ms, 0.99):11.0f}  {dict(sorted(p.by_status.items()))}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the load phase")
    parser.add_argument("--queue", type=int, default=16, help="the server's inference_queue_size")
    parser.add_argument("--analyzers", default="nudenet", help="comma-separated analyzers of the server")
    parser.add_argument("--rate-limit", type=int, default=1_000_000, help="per-key images per minute")
    args = parser.parse_args()

    analyzers = ", ".join(f'"{a.strip()}"' for a in args.analyzers.split(",") if a.strip())
    toml = (
        f"analyzers = [{analyzers}]\nalert_escalation_s = 0\nretention_interval_s = 0\n"
        f"inference_queue_size = {args.queue}\nimage_rate_limit_per_minute = {args.rate_limit}\n"
    )
    body = sample_jpeg()
    with tempfile.TemporaryDirectory(prefix="fw-load-") as tmp:
        server = ServeProcess(Path(tmp), toml)
        key = server.create_key("ingest")
        server.start()
        try:
            asyncio.run(run_phase(server.url, key, "warm-up", 1, 3.0, body))  # model load, first batches
            base = asyncio.run(run_phase(server.url, key, "baseline", 1, max(5.0, args.duration / 4), body))
            load = asyncio.run(run_phase(server.url, key, "load", args.clients, args.duration, body))
            after = asyncio.run(run_phase(server.url, key, "recovery", 1, max(5.0, args.duration / 4), body))
            alive = server.healthy()
        finally:
            code = server.stop()
        phases = [base, load, after]
        print(f"\nload: {args.clients} clients for {args.duration:g} s, inference queue {args.queue}, "
              f"analyzers [{analyzers}], {len(body)} byte JPEG, loopback")  # fmt: skip
        report(phases, base)
        errors = {
            s: n
            for p in phases
            for s, n in p.by_status.items()
            if not s.isdigit() or (s[0] == "5" and s != "503")
        }
        fast_limit = pct(load.ok_ms, 0.5) / 2
        checks = {
            "no 5xx but 503, no connection errors": not errors,
            "server pushed past capacity (some 429/503)": bool(load.refused_ms),
            f"refusals fast (p50 {pct(load.refused_ms, 0.5):.0f} ms < half the served p50 under load)": (
                not load.refused_ms or pct(load.refused_ms, 0.5) < fast_limit
            ),
            "recovery p50 within 3x baseline": pct(after.ok_ms, 0.5) <= 3 * pct(base.ok_ms, 0.5) + 50,
            "server healthy after, and SIGTERM exits 0": alive and code == 0,
        }
        if base.ok_ms and load.ok_ms:
            p50 = pct(base.ok_ms, 0.5)
            print(f"load throughput / baseline: {load.throughput / base.throughput:.2f}x; "
                  f"load p50 / baseline p50: {pct(load.ok_ms, 0.5) / p50:.1f}x; "
                  f"recovery p50 / baseline p50: {pct(after.ok_ms, 0.5) / p50:.2f}x")  # fmt: skip
        for what, ok in checks.items():
            print(f"  [{'ok' if ok else 'FAIL'}] {what}")
        if errors:
            print(f"  errors: {errors}\n{server.tail(2000)}")
        return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
