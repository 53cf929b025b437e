"""A real ``framewarden serve`` process on a free loopback port, for fuzz, fault tests and benches.

The process is the real CLI command; it is started through a one-line
wrapper that first imports :mod:`tests.e2e.harness`, so the analyzers with a
known answer (``test_flag_all``, ``test_slow``) can be named in its settings.
API keys are created with ``framewarden keys create`` in the same data
directory before the server starts.  ``kill()`` is a SIGKILL (nothing flushed),
``stop()`` a SIGTERM (drained), and ``start()`` again reuses the data directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = "import tests.e2e.harness; from framewarden.cli import app; app(prog_name='framewarden')"
# The same on a Ray cluster ($FW_TEST_RAY_ADDRESS): its worker processes import the harness too.
RAY_LAUNCH = (
    "import os, ray, tests.e2e.harness as h; "
    "ray.init(address=os.environ['FW_TEST_RAY_ADDRESS'], log_to_driver=False, runtime_env={"
    "'env_vars': {'PYTHONPATH': os.environ['PYTHONPATH']}, 'worker_process_setup_hook': h.import_harness}); "
    "from framewarden.cli import app; app(prog_name='framewarden')"
)


class ServeProcess:
    """``framewarden serve`` with its own data dir, TOML settings and keys by role."""

    def __init__(
        self,
        root: Path,
        toml: str = "",
        *,
        env: dict[str, str] | None = None,
        launch: str = LAUNCH,
        data: Path | None = None,
    ) -> None:
        """``data``: a data folder shared with other processes (default: ``root/data``)."""
        self.root = root
        self.launch = launch
        self.data = data or root / "data"
        self.config = root / "framewarden.toml"
        self.config.write_text(toml)
        self.log = root / "serve.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        src = str(ROOT / "src")
        self.env = {
            **os.environ,
            **(env or {}),
            "FRAMEWARDEN_DATA_DIR": str(self.data),
            "FRAMEWARDEN_CONFIG": str(self.config),
            "PYTHONPATH": os.pathsep.join([str(ROOT), src, os.environ.get("PYTHONPATH", "")]),
        }
        self.keys: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-c", self.launch, *args]

    def create_key(self, role: str) -> str:
        done = subprocess.run(
            self.command("keys", "create", "--role", role, "--name", f"{role}-test", "--json"),
            env=self.env,
            capture_output=True,
            check=True,
            timeout=120,
        )
        self.keys[role] = str(json.loads(done.stdout)["key"])
        return self.keys[role]

    def start(self, timeout_s: float = 90.0) -> ServeProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command("serve", "--port", str(self.port)),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        if not wait_until(self.healthy, timeout_s, 0.2):
            raise RuntimeError(f"serve did not become healthy; log:\n{self.tail()}")
        return self

    def healthy(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"serve exited; log:\n{self.tail()}")
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def api(self, method: str, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}", **kw.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=kw.pop("timeout", 30), **kw)

    def kill(self) -> None:
        """SIGKILL: the crash case (no drain, no flush)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM and wait; the exit code (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid
