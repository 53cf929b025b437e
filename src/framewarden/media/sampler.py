"""Which decoded frames to keep: by media time, never by wall clock.

Pure logic, no FFmpeg here: a source pushes (time, item) pairs in decode
order and gets back the items to convert and emit.  Items are opaque (the
source passes undecoded-to-RGB ``av.VideoFrame``s), so a frame that is
dropped is never converted.

Three policies:

* ``interval_s == 0``: every frame.
* ``"first"``: the first frame at or after each sample time (no look-ahead,
  so no added latency: live sources and every-frame decoding).
* ``"nearest"``: the frame nearest each sample time, at the cost of holding
  one frame back (keyframes-only decoding of files, where the nearest
  keyframe may come after the sample time).

Sample times are ``origin + k * interval_s``, the origin being the first
frame's time.  An item is emitted at most once even when it is the nearest
to several sample times (keyframes sparser than the interval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
Policy = Literal["first", "nearest"]

# Timestamps are rounded by time bases (1/90000, 1/1000...): a frame that is a
# hair early still counts as on time.
EPSILON_S = 1e-3


def use_keyframes_only(interval_s: float, keyframe_interval_s: float | None) -> bool:
    """Keyframes alone cover the interval when it is at least the keyframe spacing."""
    if interval_s <= 0 or keyframe_interval_s is None:
        return False
    return interval_s + EPSILON_S >= keyframe_interval_s


@dataclass(slots=True)
class _Held(Generic[T]):
    t: float
    item: T
    emitted: bool = False


class Sampler(Generic[T]):
    """Push frames in time order; get back the ones to keep."""

    def __init__(self, interval_s: float = 0.0, policy: Policy = "first") -> None:
        if interval_s < 0:
            raise ValueError(f"sample interval must be >= 0, got {interval_s}")
        self.interval_s = float(interval_s)
        self.policy: Policy = policy
        self._origin: float | None = None
        self._k = 0  # index of the next sample time
        self._held: _Held[T] | None = None

    def _target(self) -> float:
        assert self._origin is not None
        return self._origin + self._k * self.interval_s

    def push(self, t: float, item: T) -> list[T]:
        """Offer the frame at media time ``t`` (seconds); returns the items to emit now."""
        if self.interval_s == 0:
            return [item]
        if self._origin is None:
            self._origin = t
        if self.policy == "first":
            return self._push_first(t, item)
        return self._push_nearest(t, item)

    def _push_first(self, t: float, item: T) -> list[T]:
        if t + EPSILON_S < self._target():
            return []
        while self._target() <= t + EPSILON_S:
            self._k += 1
        return [item]

    def _push_nearest(self, t: float, item: T) -> list[T]:
        out: list[T] = []
        current = _Held(t, item)
        held = self._held
        # Each sample time at or before t lies between the held frame and this one.
        while self._target() <= t + EPSILON_S:
            target = self._target()
            held_nearer = held is not None and abs(target - held.t) <= abs(t - target)
            chosen = held if held_nearer and held is not None else current
            if not chosen.emitted:
                chosen.emitted = True
                out.append(chosen.item)
            self._k += 1
        self._held = current
        return out

    def flush(self) -> list[T]:
        """End of stream: the last held frame, if it is nearer the next sample time than the last one."""
        held, self._held = self._held, None
        if held is None or held.emitted or self.policy != "nearest":
            return []
        previous_target = self._target() - self.interval_s
        if held.t - previous_target >= self.interval_s / 2:
            return [held.item]
        return []
