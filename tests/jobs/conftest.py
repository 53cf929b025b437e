"""Clips shared by the jobs and CLI scan tests (made once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.jobs.redbox  # noqa: F401  (registers the "redbox" test analyzer)
from tests.jobs.clips import make_clip


@pytest.fixture(scope="session")
def red_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, 25 fps, moving gray pattern, red box from 2.0 s to 4.0 s inclusive."""
    return make_clip(tmp_path_factory.mktemp("clips") / "red.mp4")


@pytest.fixture(scope="session")
def static_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, 25 fps, flat white, red box from 2.0 s to 4.0 s inclusive."""
    return make_clip(tmp_path_factory.mktemp("clips") / "static.mp4", static=True)
