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


def test_a_scan_actor_covers_its_node_without_oversubscribing_it() -> None:
    from framewarden.engines.ray_scan_nodes import node_plan

    assert node_plan(2) == {"videos": 2, "lanes": 2, "threads": 1, "decode_threads": 2}
    assert node_plan(0.5) == {"videos": 1, "lanes": 1, "threads": 1, "decode_threads": 1}
    big = node_plan(64)  # lanes are capped; their ONNX threads cover half the node
    assert big["videos"] == 64 and big["lanes"] == 8 and big["lanes"] * big["threads"] == 32
    assert big["decode_threads"] == 4


class _FakeRay:
    """``ray.nodes()`` of a cluster, as default_actor_count reads it."""

    def __init__(self, *cpus: float) -> None:
        self._nodes = [
            {"NodeID": f"n{i}", "Alive": True, "Resources": {"CPU": c}} for i, c in enumerate(cpus)
        ]

    def nodes(self) -> list[dict[str, Any]]:
        return self._nodes


def test_the_actors_count_no_head_without_cpus_and_leave_room_for_a_task() -> None:
    from framewarden.engines.ray_inference import default_actor_count

    assert default_actor_count(_FakeRay(0, 1, 1)) == 2  # the CPU-less head gets none
    assert default_actor_count(_FakeRay(0, 8)) == 4
    # a node lost: one CPU left; two actors of 0.5 would leave no room for the task
    assert default_actor_count(_FakeRay(0, 1), 0.5, 0.5) == 1
    assert default_actor_count(_FakeRay(0, 1, 1), 0.5, 0.5) == 2
    assert default_actor_count(_FakeRay(0, 2), 1.0, 1.0) == 1


def test_a_replacement_actor_gets_the_lanes_of_its_share() -> None:
    from framewarden.engines.ray_inference import actor_lanes

    assert actor_lanes(8, 4) == 2  # a pool of 4 actors on 8 CPUs: 2 lanes each
    assert actor_lanes(8, 1, of_total=4) == 2  # one of them replaced: still 2, not 8
    assert actor_lanes(8, 1) == 8 and actor_lanes(64, 1) == 8  # capped
    assert actor_lanes(1, 2) == 1  # at least one
