"""Stop a stream by running a local command (argv template, never a shell)."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

from framewarden.actions.controllers.base import ControllerError, render, template_values

log = logging.getLogger(__name__)


class CommandController:
    """Runs ``argv`` (each item a template) with a timeout; a non-zero exit fails.

    No shell is involved, so a channel name can never inject a command: it
    only ever fills one argument.
    """

    kind = "command"

    def __init__(self, argv: Sequence[str], *, timeout_s: float = 10.0, source: str = "") -> None:
        if not argv:
            raise ValueError("command controller needs a non-empty argv")
        self.argv = list(argv)
        self.timeout_s = timeout_s
        self.source = source

    def stop(self, channel: str) -> None:
        values = template_values(channel, self.source)
        argv = [render(item, values, channel=channel) for item in self.argv]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s, check=False)
        except FileNotFoundError:
            raise ControllerError(channel, f"command not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise ControllerError(channel, f"{argv[0]} timed out after {self.timeout_s:g} s") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise ControllerError(channel, f"{argv[0]} exited with {done.returncode}: {tail[0]}")
        log.info("channel %s: stop command %s succeeded", channel, argv[0])
