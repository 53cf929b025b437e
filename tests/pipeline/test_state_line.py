"""Channel state log lines read as English: no "stopped stopped by request"."""

from __future__ import annotations

import pytest

from framewarden.pipeline.supervisor import state_line


@pytest.mark.parametrize(
    ("state", "reason", "line"),
    [
        ("stopped", "stopped by request", "stopped by request"),
        ("live", "", "live"),
        ("error", "connection refused", "error (connection refused)"),
    ],
)
def test_state_line(state: str, reason: str, line: str) -> None:
    assert state_line(state, reason) == line
