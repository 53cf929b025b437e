"""Channel actors' metrics merged into the API's registry, and a failed actor start read back
from Ray's error (no cluster: the registry merge and the error parsing are plain code)."""

from __future__ import annotations

import os

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from framewarden.engines.ray_metrics import ClusterRegistry, snapshot_families
from framewarden.pipeline.metrics import PipelineMetrics


def _actor(channel: str, decoded: int) -> list[object]:
    """What one channel actor's ``metrics()`` returns."""
    metrics = PipelineMetrics(CollectorRegistry())
    metrics.count(channel, "decoded", decoded)
    metrics.latency.labels(channel).observe(0.03)
    return snapshot_families(metrics.registry)


def test_actor_series_merge_into_the_api_registry_once_per_family() -> None:
    api = PipelineMetrics(CollectorRegistry())  # the API's own families: empty on --engine ray
    remote = [*_actor("cam-a", 30), *_actor("cam-b", 12)]
    merged = ClusterRegistry(api.registry, lambda: list(remote))
    text = generate_latest(merged).decode()
    assert text.count("# TYPE framewarden_frames_total counter") == 1  # one family, both channels
    assert 'framewarden_frames_total{channel="cam-a",stage="decoded"} 30.0' in text
    assert 'framewarden_frames_total{channel="cam-b",stage="decoded"} 12.0' in text
    assert text.count("# TYPE framewarden_frame_latency_seconds histogram") == 1
    got = merged.get_sample_value("framewarden_frame_latency_seconds_count", {"channel": "cam-b"})
    assert got == 1.0
    remote.clear()  # no actor answers: the scrape still has the API's own families
    assert "framewarden_frames_total{" not in generate_latest(merged).decode()


def test_a_failing_collector_leaves_the_rest_of_the_page() -> None:
    def broken() -> list[object]:
        raise RuntimeError("cluster gone")

    api = PipelineMetrics(CollectorRegistry())
    api.count("local", "decoded", 3)
    text = generate_latest(ClusterRegistry(api.registry, broken)).decode()  # type: ignore[arg-type]
    assert 'framewarden_frames_total{channel="local",stage="decoded"} 3.0' in text


def test_a_failed_start_is_read_from_rays_error_and_redacted() -> None:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    exceptions = pytest.importorskip("ray.exceptions", reason="the test command installs framewarden[ray]")
    from framewarden.engines.ray_live import ChannelStartError, start_failure

    cause = ChannelStartError("OperationalError: cannot reach postgresql://fw:hunter2@db:5432/fw")
    traceback = (
        'Traceback (most recent call last):\n  File "ray_live.py", line 90, in __init__\n'
        f"framewarden.engines.ray_live.ChannelStartError: {cause}\n"
    )
    died = exceptions.ActorDiedError(exceptions.RayTaskError("ChannelActor.__init__", traceback, cause))
    reason = start_failure(died)
    assert (
        reason == "channel actor failed to start: OperationalError: cannot reach postgresql://***@db:5432/fw"
    )
    # A lost node (no creation-task error) or a timeout is no failed start: the actor may come back.
    assert start_failure(exceptions.ActorDiedError()) is None
    assert start_failure(exceptions.GetTimeoutError("slow")) is None
