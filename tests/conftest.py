"""Fixtures shared by the whole suite: vendored test data, isolated settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Ray (tests/engines) on loopback only: without this, Ray resolves 127.0.0.1 to the machine's
# outward address. Ray reads it once, at its import, so it is set before any test module loads.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

REPO = Path(__file__).resolve().parents[1]
# Vendored in the repository (tests/data/PROVENANCE.md); FRAMEWARDEN_TEST_DATA may point at a fuller copy.
SHARED_DATA = Path(os.environ.get("FRAMEWARDEN_TEST_DATA") or REPO / "tests" / "data")
IMAGES = SHARED_DATA / "images"
VIDEOS = SHARED_DATA / "videos"
BROKEN = SHARED_DATA / "broken"
THREATEXCHANGE = SHARED_DATA / "threatexchange"

if not SHARED_DATA.is_dir():  # pragma: no cover - a broken checkout or a wrong override, not a skip
    raise RuntimeError(f"test data not found at {SHARED_DATA} (FRAMEWARDEN_TEST_DATA or tests/data)")


def real_images() -> list[Path]:
    return sorted(p for p in IMAGES.iterdir() if p.suffix.lower() in {".png", ".jpg", ".gif"})


def real_videos() -> list[Path]:
    return sorted(p for p in VIDEOS.iterdir() if p.suffix.lower() in {".mp4", ".webm", ".avi", ".mkv"})


@pytest.fixture(autouse=True)
def isolated_settings(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own data directory; no test reads the user's."""
    from framewarden.config import get_settings

    data_dir = tmp_path_factory.mktemp("fwdata")
    monkeypatch.setenv("FRAMEWARDEN_DATA_DIR", str(data_dir))
    monkeypatch.delenv("FRAMEWARDEN_CONFIG", raising=False)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


# A private PostgreSQL for the session and `db` / `db_url` fixtures over SQLite and PostgreSQL (tests/pg.py).
from tests.pg import db, db_url, pg_database, postgres_server, sqlite_template  # noqa: E402, F401
