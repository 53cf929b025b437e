"""The server applies retention by itself, periodically."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from framewarden.api.runtime import Runtime
from framewarden.config import Settings
from framewarden.store import results
from framewarden.store.models import utcnow


def test_runtime_prunes_old_results_periodically(isolated_settings: Path) -> None:
    settings = Settings(
        data_dir=isolated_settings,
        analyzers=["hashlist"],
        alert_escalation_s=0,
        retention_results_days=1,
        retention_interval_s=0.05,
    )
    runtime = Runtime(settings).start()
    try:
        with runtime.db.begin() as s:  # written after the start-up pass: only a later pass removes it
            results.add_result(s, channel="c", analyzed_at=utcnow() - timedelta(days=2))
            results.add_result(s, channel="c")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with runtime.db.read() as s:
                left = results.count_results(s, channel="c")
            if left == 1:
                break
            time.sleep(0.05)
        assert left == 1, "the old result is still there: no periodic retention pass ran"
    finally:
        runtime.stop()
