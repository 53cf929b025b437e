"""The do-nothing controller, for sources that cannot be stopped (files, HLS pulls)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class NullController:
    """Stopping is recorded in the log and otherwise ignored.

    The channel worker still stops *analyzing* the channel on an auto-stop;
    only the upstream stream keeps running, which is all a file source allows.
    """

    kind = "null"
    can_stop = False  # the upstream stream keeps running: an auto-stop alert stays open for a human

    def __init__(self) -> None:
        self.stops: list[str] = []  # channels asked to stop, for the dashboard and tests

    def stop(self, channel: str) -> None:
        self.stops.append(channel)
        log.info("channel %s: no stream controller configured; upstream stream left running", channel)
