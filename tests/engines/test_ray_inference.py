"""The inference actors' CPU is reserved before anything that calls them is submitted."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the Ray engine needs the optional extra framewarden[ray]")

from framewarden.config import get_settings  # noqa: E402
from framewarden.engines.ray_inference import (  # noqa: E402
    NoRoomForActorsError,
    release_actors,
    start_actors,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one_cpu() -> Iterator[None]:
    os.environ["PYTHONPATH"] = os.pathsep.join(sys.path)  # workers import this checkout
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")  # fmt: skip
    yield
    ray.shutdown()


def _start(count: int = 1, timeout: float = 60.0) -> list[Any]:
    settings = get_settings()
    return start_actors(
        ray, count, analyzers=["nudenet"], settings=settings, min_confidence=settings.min_confidence,
        max_batch=8, max_wait_ms=2.0, num_cpus=0.5, room_timeout_s=timeout,
    )  # fmt: skip


def _caller(actor: Any) -> dict[str, str]:
    return ray.get(actor.ready.remote())  # type: ignore[no-any-return]


def test_tasks_submitted_after_the_actors_cannot_take_their_cpu(one_cpu: None) -> None:
    # One CPU: the actor holds 0.5, so at most one 0.5-CPU caller runs at a time. Without the
    # reservation, four callers submitted at once can take the whole CPU before the actor is
    # placed, and then wait on it for ever.
    actors = _start()
    try:
        caller = ray.remote(_caller).options(num_cpus=0.5)
        versions = ray.get([caller.remote(actors[0]) for _ in range(4)], timeout=120)
        assert all("nudenet" in v for v in versions)
    finally:
        release_actors(ray, actors)
    assert not ray.util.placement_group_table() or all(
        g["state"] == "REMOVED" for g in ray.util.placement_group_table().values()
    )


def test_no_room_is_a_clear_error_not_a_hang(one_cpu: None) -> None:
    hold = ray.remote(lambda: __import__("time").sleep(30)).options(num_cpus=1).remote()
    try:
        with pytest.raises(NoRoomForActorsError, match=r"no room for 1 inference actor\(s\) of 0.5 CPU"):
            _start(timeout=1.0)
    finally:
        ray.cancel(hold, force=True)
