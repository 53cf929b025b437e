"""Notices a live source that stopped delivering, long before a read times out.

A live stream delivers media in real time, so the next packet is due once
the wall clock has caught up with the media already received.  The detector
keeps an anchor (wall clock, media time) taken whenever data arrives late,
and calls the source *stalled* once the wall clock passes the due time of
the newest media by ``stall_frames`` frame intervals (never less than
``min_s``).  That is right for every delivery pattern:

* RTMP, RTSP, SRT: packets every frame interval, due time ~ arrival time;
  a dropped publisher is noticed after ``stall_frames`` intervals (~1 s).
* HLS: a whole segment arrives in a burst; its media covers the wall time
  until the next segment is due, so the gap between bursts is not a stall.

It also says when a source is *advancing* (data arrived over a wall-clock
span, not in one burst), so a stale HLS playlist whose publisher is gone
does not make a channel look live again for one replayed segment.
"""

from __future__ import annotations

import threading

MAX_LEAD_S = 30.0  # media received further ahead than this is a timestamp jump, not a buffer
ADVANCING_SPAN_S = 0.3  # data arriving over this much wall time is a live stream, not one burst


class StallDetector:
    """Feed it ``packet(arrived, media_s)`` from the reading thread; ask ``stalled_for(now)`` anywhere."""

    def __init__(self, *, stall_frames: int = 30, frame_interval_s: float = 0.04, min_s: float = 0.5) -> None:
        if stall_frames < 1 or frame_interval_s <= 0 or min_s < 0:
            raise ValueError("stall_frames >= 1, frame_interval_s > 0 and min_s >= 0 are required")
        self.stall_frames = stall_frames
        self.frame_interval_s = frame_interval_s
        self.min_s = min_s
        self._lock = threading.Lock()
        self._anchor: tuple[float, float] | None = None  # (wall, media) of the last late arrival
        self._newest_media: float | None = None
        self._last_arrival: float | None = None
        self._first_arrival: float | None = None

    @property
    def window_s(self) -> float:
        """How far past its due time the next data may be before the source counts as stalled."""
        return max(self.min_s, self.stall_frames * self.frame_interval_s)

    def packet(self, arrived: float, media_s: float | None) -> None:
        """One packet read at wall clock ``arrived`` with media time ``media_s`` (None if unknown)."""
        with self._lock:
            if self._first_arrival is None:
                self._first_arrival = arrived
            self._last_arrival = arrived
            if media_s is None:
                return
            if self._anchor is None or self._newest_media is None:
                self._anchor, self._newest_media = (arrived, media_s), media_s
                return
            wall0, media0 = self._anchor
            lead = media_s - media0 - (arrived - wall0)
            if media_s < media0 or lead > MAX_LEAD_S:  # a timestamp jump (loop, discontinuity): restart
                self._anchor, self._newest_media = (arrived, media_s), media_s
                return
            if lead < 0:  # late (or exactly on time): the stream's real-time position is here
                self._anchor = (arrived, media_s)
            self._newest_media = max(self._newest_media, media_s)

    def due_at(self) -> float | None:
        """Wall clock by which the data after the newest received media should have arrived."""
        with self._lock:
            if self._anchor is None or self._newest_media is None:
                return self._last_arrival
            wall0, media0 = self._anchor
            return max(self._last_arrival or wall0, wall0 + (self._newest_media - media0))

    def stalled_for(self, now: float) -> float | None:
        """Seconds since the last data when the source is stalled at ``now``; None while it is not."""
        due = self.due_at()
        if due is None or now <= due + self.window_s:
            return None
        with self._lock:
            last = self._last_arrival
        return now - (last if last is not None else due)

    @property
    def advancing(self) -> bool:
        """Data arrived over more than one burst: the source is live, not a stale replay."""
        with self._lock:
            if self._first_arrival is None or self._last_arrival is None:
                return False
            return self._last_arrival - self._first_arrival >= ADVANCING_SPAN_S
