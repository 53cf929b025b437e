"""Channel sources: scheme, local files, the demo clip only, and the network policy."""

from __future__ import annotations

import pytest

from framewarden.config import Settings
from framewarden.errors import ConfigError
from framewarden.media.demo import open_source_with_demo
from framewarden.media.source_check import check_source

DEMO = Settings(allowed_source_schemes=["rtmp", "demo"], port=8080)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("demo:", None),
        ("demo:/etc/passwd", "plays only the bundled demo clip"),
        ("demo:../../secret.mp4", "plays only the bundled demo clip"),
        ("rtmp://127.0.0.1/live/a", None),
        ("rtmp://169.254.169.254/live/a", "denied by network_deny"),
        ("rtmp://127.0.0.1:8080/live/a", "framewarden's own API"),
        ("rtmp://user:hunter2@169.254.1.1/live/a", "rtmp://\\*\\*\\*@169.254.1.1"),
        ("/etc/passwd", "local files are not allowed"),
        ("http://127.0.0.1/x.m3u8", "scheme 'http' is not allowed"),
    ],
)
def test_check_source(source: str, error: str | None) -> None:
    if error is None:
        assert check_source(source, DEMO) == source
    else:
        with pytest.raises(ConfigError, match=error) as info:
            check_source(source, DEMO)
        assert "hunter2" not in str(info.value)


def test_demo_opener_refuses_any_path() -> None:
    """Defence in depth: the opener itself never reads a path given after demo:."""
    with pytest.raises(ConfigError, match="bundled demo clip"):
        open_source_with_demo("demo:/etc/passwd")
