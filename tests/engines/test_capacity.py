"""What a live channel costs and where it fits (no cluster needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from framewarden.engines.capacity import CapacityError, CostModel, Ledger, StreamShape, estimate, reestimate

MODEL = CostModel(decode_ms=4.0, keyframe_decode_ms=7.0, infer_ms=50.0, fps=30.0, gop_s=2.0)


def test_long_intervals_decode_keyframes_only() -> None:
    every_2s = estimate(2.0, MODEL)  # interval >= GOP: one keyframe decode per GOP
    every_1s = estimate(1.0, MODEL)  # interval < GOP: every frame decoded
    assert every_2s.keyframes_only and not every_1s.keyframes_only
    assert every_2s.decoded_per_s == pytest.approx(0.5)
    assert every_1s.decoded_per_s == pytest.approx(30.0)
    assert every_2s.cpus == pytest.approx(0.02 + (0.5 * 7 + 0.5 * 50) / 1000)
    assert every_1s.cpus == pytest.approx(0.02 + (30 * 4 + 50) / 1000)
    every_frame = estimate(0.0, MODEL)
    assert every_frame.analyzed_per_s == 30.0 and every_frame.cpus > 1.5  # more than a core


def test_admission_spreads_then_refuses_with_a_reason() -> None:
    ledger = Ledger(headroom=0.9)
    nodes = {"a": 1.0, "b": 1.0}
    cost = estimate(1.0, MODEL)  # 0.19 CPU
    placed = [ledger.admit(f"cam{i}", cost, nodes) for i in range(8)]
    assert placed.count("a") == placed.count("b") == 4  # most room first: spread evenly
    with pytest.raises(CapacityError, match=r"needs 0\.19 CPU .*full decode.* add a node"):
        ledger.admit("cam9", cost, nodes)
    ledger.release("cam0")
    assert ledger.admit("cam9", cost, nodes) == placed[0]
    ledger.moved("cam9", "b")  # restarted elsewhere: its reservation follows it
    rooms = {r.node: r for r in ledger.rooms(nodes)}
    assert rooms["b"].used == pytest.approx(5 * cost.cpus) and rooms["a"].used == pytest.approx(3 * cost.cpus)
    with pytest.raises(CapacityError):
        ledger.admit("huge", estimate(0.0, MODEL), {"a": 1.0})


def test_channels_of_a_lost_node_keep_their_claim() -> None:
    ledger = Ledger(headroom=1.0)
    cost = estimate(1.0, MODEL)  # 0.19 CPU
    for i in range(4):
        ledger.admit(f"cam{i}", cost, {"a": 1.0, "b": 1.0})
    # Node b is lost: its two channels are restarting somewhere; a with 0.62 free takes them first.
    assert ledger.admit("new1", cost, {"a": 1.0}) == "a"  # 0.62 - 0.38 held >= 0.19
    with pytest.raises(CapacityError, match="held for channels of a lost node"):
        ledger.admit("new2", cost, {"a": 1.0})
    ledger.moved("cam1", "a")  # one came back on a: its claim is now an ordinary reservation
    ledger.moved("cam3", "a")
    with pytest.raises(CapacityError):
        ledger.admit("new2", cost, {"a": 1.0})  # a is full: 5 x 0.19 = 0.95


class _Meta:
    def __init__(self, frame_rate: float, keyframe_interval_s: float | None) -> None:
        self.frame_rate, self.keyframe_interval_s = frame_rate, keyframe_interval_s


class _Opened:
    def __init__(self, frame_rate: float, keyframe_interval_s: float | None) -> None:
        self.metadata = _Meta(frame_rate, keyframe_interval_s)


def test_the_streams_real_shape_changes_the_cost_and_can_overfill_a_node() -> None:
    assumed = estimate(1.0, MODEL)  # 30 fps, keyframes every 2 s: full decode, 0.19 CPU
    shape = StreamShape.of(_Opened(25.0, 1.0))
    assert shape == StreamShape(fps=25.0, gop_s=1.0)
    real = reestimate(1.0, MODEL, shape)
    assert real.keyframes_only and real.cpus == pytest.approx(0.02 + (1 * 7 + 1 * 50) / 1000)
    longer = reestimate(1.0, MODEL, StreamShape(fps=60.0, gop_s=4.0))  # 60 fps, full decode
    assert not longer.keyframes_only and longer.cpus == pytest.approx(0.02 + (60 * 4 + 50) / 1000)
    assert longer.cpus > assumed.cpus
    # A time base posing as a frame rate (FLV says 1000) is not believed; nothing known -> None.
    assert StreamShape.of(_Opened(1000.0, 2.0)) == StreamShape(fps=None, gop_s=2.0)
    assert StreamShape.of(_Opened(0.0, None)) is None and StreamShape.of(object()) is None

    ledger = Ledger(headroom=0.9)
    nodes = {"a": 1.0}
    for name in ("cam1", "cam2", "cam3"):
        ledger.admit(name, assumed, nodes)  # 3 x 0.19 = 0.57 of 0.9
    assert ledger.over_budget(nodes) == {}
    ledger.resize("cam1", longer.cpus)  # 0.31 + 0.38 = 0.69: still within
    ledger.resize("cam2", longer.cpus)  # 0.31 x 2 + 0.19 = 0.81
    ledger.resize("cam3", longer.cpus)  # 0.93 > 0.9: the books say so
    assert ledger.over_budget(nodes) == {"a": pytest.approx(3 * longer.cpus - 0.9)}
    with pytest.raises(CapacityError):
        ledger.admit("cam4", estimate(2.0, MODEL), nodes)  # nothing more goes there
    ledger.resize("gone", 1.0)  # a channel the books do not hold: ignored
    assert {r.node: r.used for r in ledger.rooms(nodes)} == {"a": pytest.approx(3 * longer.cpus)}


def test_a_channel_that_outgrew_its_node_moves_only_where_it_fits() -> None:
    ledger = Ledger(headroom=1.0)
    ledger.admit("big", estimate(2.0, MODEL), {"a": 1.0})  # 0.05 CPU assumed
    ledger.resize("big", 1.2)  # its real stream: past a's budget
    assert ledger.over_budget({"a": 1.0}) == {"a": pytest.approx(0.2)}
    assert ledger.relocate("big", {"a": 1.0}) is None  # nowhere else to go: nothing changes
    assert ledger.relocate("big", {"a": 1.0, "b": 1.0}) is None  # b is too small for 1.2
    assert ledger.node_of("big") == "a"
    assert ledger.relocate("big", {"a": 1.0, "b": 1.0, "c": 2.0}) == "c"
    assert ledger.node_of("big") == "c" and ledger.over_budget({"a": 1.0, "c": 2.0}) == {}
    assert ledger.relocate("unknown", {"c": 2.0}) is None


def test_a_streams_keyframe_spacing_is_read_as_it_is_now(tmp_path: Path) -> None:
    """A stream whose keyframes come 1 s apart, then every 4 s: its shape follows what was read
    (a live stream's metadata knows only its first keyframes' spacing)."""
    from framewarden.media.source import open_video

    clip = tmp_path / "gop.mp4"
    keys = ",".join(str(t) for t in (0, 1, 2, 3, 4, 8, 12, 16, 20))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:d=24",
         "-c:v", "libx264", "-g", "1000", "-sc_threshold", "0", "-force_key_frames", keys,
         "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    with open_video(str(clip)) as video:
        assert video.stats.keyframe_interval_s() is None  # nothing read yet: the metadata's
        frames = video.frames(channel="gop", sample_interval_s=1.0)
        for frame in frames:
            if frame.pts_ms >= 6000:
                assert StreamShape.of(video) == StreamShape(fps=10.0, gop_s=1.0)  # 0, 1, 2, 3, 4 s
                break
        for _ in frames:
            pass
        assert video.stats.keyframe_interval_s() == 4.0
        assert StreamShape.of(video) == StreamShape(fps=10.0, gop_s=4.0)
