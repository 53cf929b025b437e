"""Joining and leaving a Ray cluster: a scan's driver leaves only the connection it made."""

from __future__ import annotations

import logging
import os

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, before `import ray`

ray = pytest.importorskip("ray", reason="the Ray engine needs the optional extra framewarden[ray]")

from framewarden.engines.ray_cluster import connect, disconnect  # noqa: E402

pytestmark = pytest.mark.slow


def test_disconnect_leaves_only_the_connection_connect_made() -> None:
    if ray.is_initialized():
        ray.shutdown()
    connect(None)  # a private cluster, joined here
    ray.shutdown()  # someone else ended it, and connected again on their own:
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        disconnect()
        assert ray.is_initialized()  # theirs: left alone (a CI run lost its test cluster this way)
    finally:
        ray.shutdown()
    connect(None)
    disconnect()
    assert not ray.is_initialized()  # ours: left
