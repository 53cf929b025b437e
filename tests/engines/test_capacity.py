"""What a live channel costs and where it fits (no cluster needed)."""

from __future__ import annotations

import pytest

from framewarden.engines.capacity import CapacityError, CostModel, Ledger, estimate

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
