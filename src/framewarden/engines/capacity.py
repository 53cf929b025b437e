"""Placement and capacity of live channels on a cluster: what a channel costs, where it fits.

A channel costs what its sampling costs.  With a sample interval at least as long as the
keyframe spacing the decoder reads keyframes only (one decode per GOP); otherwise it decodes
every frame to pick the sampled ones.  Each sampled frame then costs one inference.  The
figures are CPU milliseconds per frame, measured with ``bench/live_cost.py`` (defaults in
:class:`~framewarden.config.Settings`), so the estimate is a CPU share a node reserves.

Admission is per node: a channel goes to the node with the most room left under its
real-time budget (``CPUs x live_node_headroom``); when no node has room it is refused with
:class:`CapacityError` (HTTP 503) rather than overloading a node so every channel on it
falls behind.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from framewarden.errors import FramewardenError
from framewarden.media.sampler import use_keyframes_only

_BASE_CPU = 0.02  # demuxing, network and the worker's own bookkeeping, per channel
_MAX_FPS = 240.0  # a container's rate above this is a time base (FLV says 1000), not a frame rate
RESIZE_SHARE = 0.05  # a re-estimate within 5% keeps the reservation (no churn on a rounding)


class CapacityError(FramewardenError):
    """No node has room for a channel: add a node, or sample less often."""


@dataclass(frozen=True, slots=True)
class CostModel:
    """Per-frame CPU costs (milliseconds) and the stream shape assumed before it is opened."""

    decode_ms: float = 4.0  # one frame of a full decode (720p H.264, scaled in the decoder)
    keyframe_decode_ms: float = 7.0  # one keyframe when only keyframes are decoded
    infer_ms: float = 65.0  # one analyzed frame through the default analyzers (nudenet, OCR, hashes)
    fps: float = 30.0
    gop_s: float = 2.0


@dataclass(frozen=True, slots=True)
class ChannelCost:
    cpus: float  # the CPU share the channel's actor reserves
    keyframes_only: bool
    decoded_per_s: float
    analyzed_per_s: float

    def to_dict(self) -> dict[str, float | bool]:
        return {
            "cpus": round(self.cpus, 4),
            "keyframes_only": self.keyframes_only,
            "decoded_per_s": round(self.decoded_per_s, 3),
            "analyzed_per_s": round(self.analyzed_per_s, 3),
        }


def estimate(sample_interval_s: float, model: CostModel) -> ChannelCost:
    """The CPU share one channel needs at ``sample_interval_s`` (0 = every frame)."""
    keyframes_only = use_keyframes_only(sample_interval_s, model.gop_s)
    if keyframes_only:
        decoded = 1.0 / model.gop_s
        decode_cpu = decoded * model.keyframe_decode_ms
    else:
        decoded = model.fps
        decode_cpu = decoded * model.decode_ms
    analyzed = model.fps if sample_interval_s <= 0 else min(model.fps, 1.0 / sample_interval_s)
    cpus = _BASE_CPU + (decode_cpu + analyzed * model.infer_ms) / 1000.0
    return ChannelCost(round(cpus, 4), keyframes_only, decoded, analyzed)


@dataclass(frozen=True, slots=True)
class StreamShape:
    """What an opened stream is really like (``None``: the source could not tell)."""

    fps: float | None
    gop_s: float | None

    @classmethod
    def of(cls, source: Any) -> StreamShape | None:
        """The shape of an opened source: its frame rate, and its keyframe spacing as read so far
        (the median of its last keyframes), or the metadata's (its first keyframes') before that."""
        meta = getattr(source, "metadata", None)
        if meta is None:
            return None
        fps = float(getattr(meta, "frame_rate", 0.0) or 0.0)
        interval = getattr(getattr(source, "stats", None), "keyframe_interval_s", None)
        measured = interval() if callable(interval) else None
        gop = measured or getattr(meta, "keyframe_interval_s", None)
        shape = cls(
            fps=round(fps, 3) if 0 < fps <= _MAX_FPS else None,
            gop_s=round(float(gop), 2) if gop else None,
        )
        return shape if shape.fps or shape.gop_s else None

    def to_dict(self) -> dict[str, float | None]:
        return {"fps": self.fps, "gop_s": self.gop_s}


def reestimate(sample_interval_s: float, model: CostModel, shape: StreamShape) -> ChannelCost:
    """:func:`estimate` with the stream's own frame rate and keyframe spacing where it told them."""
    real = replace(model, fps=shape.fps or model.fps, gop_s=shape.gop_s or model.gop_s)
    return estimate(sample_interval_s, real)


@dataclass(frozen=True, slots=True)
class NodeRoom:
    node: str
    cpus: float
    budget: float
    used: float

    @property
    def free(self) -> float:
        return max(0.0, self.budget - self.used)


class Ledger:
    """Which channel holds how much of which node (the API process's own books)."""

    def __init__(self, headroom: float) -> None:
        if not 0 < headroom <= 1:
            raise ValueError(f"headroom must be in (0, 1], got {headroom}")
        self.headroom = headroom
        self._placed: dict[str, tuple[str, float]] = {}  # channel -> (node, cpus)
        self._lock = threading.Lock()

    def rooms(self, nodes: Mapping[str, float]) -> list[NodeRoom]:
        """Room on each alive node (``{node_id: CPUs}``), most free first."""
        with self._lock:
            used: dict[str, float] = {}
            for node, cpus in self._placed.values():
                used[node] = used.get(node, 0.0) + cpus
        rooms = [NodeRoom(n, c, c * self.headroom, used.get(n, 0.0)) for n, c in nodes.items()]
        return sorted(rooms, key=lambda r: (-r.free, r.node))

    def admit(self, channel: str, cost: ChannelCost, nodes: Mapping[str, float]) -> str:
        """Reserve ``cost`` on the node with the most room; raises :class:`CapacityError`."""
        with self._lock:
            self._placed.pop(channel, None)
            # Channels of a lost node, not yet restarted elsewhere, have the first claim on the
            # room left (counted in total: they may land on any node).
            displaced = sum(c for n, c in self._placed.values() if n not in nodes)
        rooms = self.rooms(nodes)
        fits = [r for r in rooms if r.free + 1e-9 >= cost.cpus]
        spare = sum(r.free for r in rooms) - displaced
        if not fits or spare + 1e-9 < cost.cpus:
            best = max((r.free for r in rooms), default=0.0)
            held = f", {displaced:.2f} CPU of it held for channels of a lost node" if displaced else ""
            raise CapacityError(
                f"channel {channel!r} needs {cost.cpus:.2f} CPU "
                f"({'keyframes only' if cost.keyframes_only else 'full decode'}, "
                f"{cost.analyzed_per_s:g} analyzed frames/s); the most any of {len(rooms)} node(s) "
                f"has left is {best:.2f} CPU{held}: add a node or sample less often"
            )
        with self._lock:
            self._placed[channel] = (fits[0].node, cost.cpus)
        return fits[0].node

    def record(self, channel: str, node: str, cpus: float) -> None:
        """A channel already running on ``node`` with ``cpus`` reserved (an actor that a new API
        process adopts): booked as it is, whatever the room left."""
        with self._lock:
            self._placed[channel] = (node, cpus)

    def moved(self, channel: str, node: str) -> None:
        """A restarted channel now runs on ``node``."""
        with self._lock:
            if channel in self._placed:
                self._placed[channel] = (node, self._placed[channel][1])

    def resize(self, channel: str, cpus: float) -> None:
        """A channel's cost was re-estimated: its reservation on its node becomes ``cpus``
        (which may take the node past its budget: the books say what is, not what was hoped)."""
        with self._lock:
            if channel in self._placed:
                self._placed[channel] = (self._placed[channel][0], cpus)

    def relocate(self, channel: str, nodes: Mapping[str, float]) -> str | None:
        """Move ``channel``'s reservation to another node with room for it (the most free);
        None, changing nothing, when no other node has that room."""
        with self._lock:
            placed = self._placed.get(channel)
        if placed is None:
            return None
        here, cpus = placed
        fits = [r for r in self.rooms(nodes) if r.node != here and r.free + 1e-9 >= cpus]
        if not fits:
            return None
        with self._lock:
            self._placed[channel] = (fits[0].node, cpus)
        return fits[0].node

    def over_budget(self, nodes: Mapping[str, float]) -> dict[str, float]:
        """``{node: CPUs reserved beyond its budget}`` for the nodes past their budget."""
        return {r.node: r.used - r.budget for r in self.rooms(nodes) if r.used > r.budget + 1e-9}

    def release(self, channel: str) -> None:
        with self._lock:
            self._placed.pop(channel, None)

    def node_of(self, channel: str) -> str | None:
        with self._lock:
            placed = self._placed.get(channel)
        return placed[0] if placed else None
