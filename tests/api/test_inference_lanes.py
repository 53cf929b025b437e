"""`framewarden serve` builds its shared inference batcher from the live_inference_* settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from framewarden.api.runtime import Runtime
from framewarden.config import Settings


def test_defaults_are_two_lanes_of_small_batches(isolated_settings: Path) -> None:
    settings = Settings(data_dir=isolated_settings)
    assert (settings.live_inference_lanes, settings.live_inference_max_batch) == (2, 4)


def test_the_batcher_follows_the_settings(isolated_settings: Path) -> None:
    settings = Settings(
        data_dir=isolated_settings, analyzers=["hashlist"], live_inference_lanes=3, live_inference_max_batch=2
    )
    runtime = Runtime(settings)
    runtime.start_analyzers()
    try:
        assert (runtime.batcher.lanes, runtime.batcher.max_batch) == (3, 2)
        lanes = runtime.batcher._threads
        assert [t.name for t in lanes] == ["fw-inference", "fw-inference-1", "fw-inference-2"]
        assert all(t.is_alive() for t in lanes)
    finally:
        runtime.batcher.close(5.0)
    assert not any(t.is_alive() for t in lanes)


@pytest.mark.parametrize("field", ["live_inference_lanes", "live_inference_max_batch"])
def test_zero_is_refused(isolated_settings: Path, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Settings(data_dir=isolated_settings, **{field: 0})
