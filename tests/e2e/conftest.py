"""Fixtures with real servers: a private nginx-rtmp and ffmpeg publishers.

Reusable by any end-to-end test (the live pipeline, the API): ask for
``nginx_rtmp`` and ``publish`` (a factory that returns a started
:class:`~tests.e2e.harness.Publisher` and stops it after the test).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import VIDEOS
from tests.e2e.harness import RTMP_MODULE, ClipSpec, NginxRtmp, Publisher, encode_clip

_MISSING = [name for name in ("nginx", "ffmpeg") if shutil.which(name) is None]
if not RTMP_MODULE.is_file():
    _MISSING.append(str(RTMP_MODULE))
if _MISSING:  # the install script provides them; a broken machine fails loudly, never skips
    raise RuntimeError(f"e2e tests need {', '.join(_MISSING)} (scripts/install-system-deps.sh)")


@pytest.fixture(scope="session")
def rtmp_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bikes.mp4 re-encoded once at 25 fps with a 1 s GOP, published with -c copy."""
    spec = ClipSpec(source=str(VIDEOS / "bikes.mp4"), width=640, height=272, fps=25, gop_s=1.0, duration_s=10)
    return encode_clip(spec, tmp_path_factory.mktemp("clips") / "bikes-gop1.flv")


@pytest.fixture
def nginx_rtmp(tmp_path: Path) -> Iterator[NginxRtmp]:
    with NginxRtmp(tmp_path / "nginx") as server:
        yield server


PublishFactory = Callable[..., Publisher]


@pytest.fixture
def publish(nginx_rtmp: NginxRtmp, rtmp_clip: Path, tmp_path: Path) -> Iterator[PublishFactory]:
    """``publish("cam1")`` starts ffmpeg pushing the clip to rtmp://.../live/cam1 and waits for it."""
    started: list[Publisher] = []

    def factory(name: str, clip: Path | None = None, *, wait: bool = True) -> Publisher:
        pub = Publisher(clip or rtmp_clip, nginx_rtmp.rtmp_url(name), log_dir=tmp_path / "ffmpeg").start()
        started.append(pub)
        if wait and not nginx_rtmp.wait_publishing(name, 15.0):
            raise RuntimeError(f"publisher {name} never appeared in nginx /stat")
        return pub

    yield factory
    for pub in started:
        pub.close()
