"""The evaluator: tiers, leaf over parent, ignore, K-of-N, and its properties."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framewarden import taxonomy
from framewarden.analyzers.base import Detection
from framewarden.result import rollup
from framewarden.rules.defaults import default_rule
from framewarden.rules.evaluate import ChannelRuleState, evaluate, judged_labels
from framewarden.rules.models import Rule
from framewarden.rules.verdict import Action, Verdict


def frame_labels(**leaves: float) -> dict[str, float]:
    """Rolled-up labels (ancestors included) as ModerationResult.labels gives them."""
    names = {k.replace("_", " "): v for k, v in leaves.items()}
    return rolled(names)


def rolled(leaves: Mapping[str, float]) -> dict[str, float]:
    dets = [
        Detection(label=name, confidence=conf, analyzer="test", analyzer_version="1", raw_class=name)
        for name, conf in leaves.items()
    ]
    return {lab.name: lab.confidence for lab in rollup(dets, min_confidence=0)}


def run(rule: Rule, labels: Mapping[str, float], state: ChannelRuleState | None = None) -> Verdict:
    return evaluate(rule, labels, state or ChannelRuleState(), channel="c", frame_seq=1, pts_ms=0.0)[0]


RULE = Rule(
    id="r",
    channel="c",
    labels={
        "Explicit": {"alert": 60, "review": 80, "auto_stop": 90},
        "Exposed Male Nipple": 95,  # a leaf more lenient than nothing (no parent key)
        "Non-Explicit Nudity of Intimate parts and Kissing": 70,
        "Exposed Buttocks or Anus": 85,  # leaf more lenient than its parent "Explicit"
        "Violence": {"review": 50},
    },
    ignore=["Kissing on the Lips"],
    notify=["ops"],
)


@pytest.mark.parametrize(
    ("labels", "actions", "matched"),
    [
        ({}, set(), []),
        (frame_labels(Exposed_Female_Nipple=59.9), set(), []),
        (frame_labels(Exposed_Female_Nipple=60), {"alert"}, ["Explicit"]),
        (frame_labels(Exposed_Female_Nipple=85), {"alert", "review"}, ["Explicit"]),
        (frame_labels(Exposed_Female_Nipple=95), {"alert", "review", "auto_stop"}, ["Explicit"]),
        # leaf key over parent: 80 crosses Explicit's review but the leaf key says 85
        (frame_labels(Exposed_Buttocks_or_Anus=80), set(), []),
        (frame_labels(Exposed_Buttocks_or_Anus=86), {"alert"}, ["Exposed Buttocks or Anus"]),
        # level-1 key covers a level-2 label with no children
        (frame_labels(Sex_Toys=61), {"alert"}, ["Explicit"]),
        # ignored leaf: its rolled-up parents are not judged either
        (frame_labels(Kissing_on_the_Lips=99), set(), []),
        (frame_labels(Exposed_Male_Nipple=90), set(), []),
        (frame_labels(Exposed_Male_Nipple=96), {"alert"}, ["Exposed Male Nipple"]),
        # review-only key: review implies alert in the action set
        (frame_labels(Weapons=55), {"alert", "review"}, ["Violence"]),
        # tags and unknown names are ignored, never errors
        ({"Face Female": 99.0, "Something": 99.0}, set(), []),
        # an ancestor seen directly (above its children) is judged on its own
        (
            {"Explicit": 75.0, "Exposed Buttocks or Anus": 70.0, "Explicit Nudity": 70.0},
            {"alert"},
            ["Explicit"],
        ),
        # strongest tier wins across labels
        (frame_labels(Weapons=55, Exposed_Female_Nipple=61), {"alert", "review"}, ["Violence", "Explicit"]),
    ],
)
def test_verdict_table(labels: dict[str, float], actions: set[str], matched: list[str]) -> None:
    verdict = run(RULE, labels)
    assert {a.value for a in verdict.actions} == actions
    assert [v.matched for v in verdict.violations] == matched
    assert verdict.flagged is bool(actions)
    assert verdict.notify == ("ops",)


def test_verdict_carries_frame_reference_and_version() -> None:
    verdict, state = evaluate(
        RULE,
        frame_labels(Exposed_Female_Nipple=70),
        ChannelRuleState(),
        channel="cam",
        frame_seq=7,
        pts_ms=1234.5,
        rule_version=3,
    )
    assert (verdict.channel, verdict.frame_seq, verdict.pts_ms, verdict.rule_version) == ("cam", 7, 1234.5, 3)
    assert verdict.violations[0].label == "Exposed Female Nipple"
    assert verdict.violations[0].threshold == 60
    assert state == ChannelRuleState(rule_id="r", hits=(False,))


def stop_rule(k: int, n: int) -> Rule:
    return Rule(
        id="s",
        channel="c",
        labels={"Explicit": {"alert": 60, "auto_stop": 90}},
        auto_stop_window={"k": k, "n": n},
    )


def sequence(rule: Rule, confidences: list[float]) -> list[Verdict]:
    state = ChannelRuleState()
    out = []
    for seq, conf in enumerate(confidences):
        verdict, state = evaluate(
            rule,
            frame_labels(Exposed_Female_Nipple=conf),
            state,
            channel="c",
            frame_seq=seq,
            pts_ms=seq * 1000.0,
        )
        out.append(verdict)
    return out


@pytest.mark.parametrize(
    ("k", "n", "confidences", "stops"),
    [
        (1, 1, [95], [True]),
        (2, 3, [95], [False]),  # one noisy frame does not stop
        (2, 3, [95, 10, 10, 95], [False, False, False, False]),  # hits too far apart
        (2, 3, [95, 10, 95], [False, False, True]),
        (2, 3, [95, 95], [False, True]),
        (3, 3, [95, 95, 70, 95, 95], [False, False, False, False, False]),
        (3, 3, [95, 95, 95], [False, False, True]),
    ],
)
def test_k_of_n_window(k: int, n: int, confidences: list[float], stops: list[bool]) -> None:
    verdicts = sequence(stop_rule(k, n), confidences)
    assert [v.stops_stream for v in verdicts] == stops


def test_auto_stop_verdict_carries_the_violation() -> None:
    first, second = sequence(stop_rule(2, 3), [95, 96])
    # Below the window: still an alert to record, not silence.
    assert first.flagged and first.actions == {Action.ALERT}
    assert second.stops_stream and second.peak is not None
    assert (second.peak.action, second.peak.label, second.peak.threshold) == (
        Action.AUTO_STOP,
        "Exposed Female Nipple",
        90,
    )


def test_state_of_another_rule_starts_fresh() -> None:
    stale = ChannelRuleState(rule_id="other", hits=(True, True))
    verdict, state = evaluate(
        stop_rule(2, 3), frame_labels(Exposed_Female_Nipple=95), stale, channel="c", frame_seq=0, pts_ms=0
    )
    assert not verdict.stops_stream and state.hits == (True,)


def test_disabled_rule_judges_nothing() -> None:
    rule = RULE.model_copy(update={"enabled": False})
    verdict, state = evaluate(
        rule,
        frame_labels(Exposed_Female_Nipple=99),
        ChannelRuleState("r", (True,)),
        channel="c",
        frame_seq=0,
        pts_ms=0,
    )
    assert not verdict.flagged and state.hits == (True,)


def test_default_rule_does_not_alert_on_swimwear_or_alcohol() -> None:
    labels = frame_labels(Female_Swimwear_or_Underwear=99, Drinking=99, Gambling=99)
    assert not run(default_rule(), labels).flagged


def test_documented_exception_to_monotony() -> None:
    # An ancestor detected directly and a child with a more lenient key: once the
    # child's confidence reaches the ancestor's, the rolled-up ancestor is only a
    # summary of the child and the child's own (leaf) key decides.
    low = run(RULE, rolled({"Explicit": 75, "Exposed Buttocks or Anus": 70}))
    high = run(RULE, rolled({"Explicit": 75, "Exposed Buttocks or Anus": 80}))
    assert low.actions == {Action.ALERT} and not high.flagged


def test_judged_labels_drops_explained_ancestors() -> None:
    assert judged_labels(frame_labels(Corpses=80, Air_Crash=60)) == {"Corpses": 80.0, "Air Crash": 60.0}


# --- properties ---------------------------------------------------------------
LEAVES = sorted(n for n in taxonomy.NODES if not taxonomy.children(n))
ALL_NAMES = sorted(taxonomy.NODES)
confidence = st.floats(min_value=0, max_value=100, allow_nan=False)
thresholds = st.one_of(
    confidence,
    st.fixed_dictionaries(
        {}, optional={"alert": confidence, "review": confidence, "auto_stop": confidence}
    ).filter(bool),
)
rules = st.builds(
    lambda labels, ignore, k, extra: Rule(
        id="p", channel="c", labels=labels, ignore=ignore, auto_stop_window={"k": k, "n": k + extra}
    ),
    st.dictionaries(st.sampled_from(ALL_NAMES), thresholds, max_size=6),
    st.lists(st.sampled_from(ALL_NAMES), max_size=2),
    st.integers(1, 3),
    st.integers(0, 2),
)


def _antichain(dets: dict[str, float]) -> bool:
    """No detection is an ancestor of another (see docs/rules.md, "Monotonic")."""
    return not any(a != b and taxonomy.is_within(b, a) for a in dets for b in dets)


detections = st.dictionaries(st.sampled_from(ALL_NAMES), confidence, min_size=1, max_size=5).filter(
    _antichain
)
history = st.lists(st.booleans(), max_size=5).map(lambda h: ChannelRuleState("p", tuple(h)))


@settings(max_examples=300, deadline=None)
@given(rules, detections, history, st.data())
def test_higher_confidence_never_gives_a_milder_verdict(rule, dets, state, data) -> None:
    name = data.draw(st.sampled_from(sorted(dets)))
    bump = data.draw(st.floats(min_value=0, max_value=100 - dets[name]))
    before = evaluate(rule, rolled(dets), state, channel="c", frame_seq=0, pts_ms=0)
    after = evaluate(
        rule, rolled({**dets, name: dets[name] + bump}), state, channel="c", frame_seq=0, pts_ms=0
    )
    assert after[0].severity >= before[0].severity
    assert after[1].recent_hits >= before[1].recent_hits


@settings(max_examples=300, deadline=None)
@given(rules, detections, history, st.sampled_from(ALL_NAMES))
def test_ignore_always_wins(rule, dets, state, ignored) -> None:
    rule = rule.model_copy(update={"ignore": [*rule.ignore, ignored]})
    verdict, _ = evaluate(rule, rolled(dets), state, channel="c", frame_seq=0, pts_ms=0)
    assert not any(taxonomy.is_within(v.label, ignored) for v in verdict.violations)
    inside = {n: c for n, c in dets.items() if taxonomy.is_within(n, ignored)}
    if inside and len(inside) == len(dets):  # only ignored content on the frame: clean
        assert not verdict.flagged


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(taxonomy.TOP_LEVEL), st.data(), confidence)
def test_level_one_threshold_applies_to_every_descendant(top, data, threshold) -> None:
    leaf = data.draw(st.sampled_from(sorted(taxonomy.subtree(top))))
    conf = data.draw(st.floats(min_value=threshold, max_value=100))
    rule = Rule(id="t", channel="c", labels={top: threshold})
    verdict = run(rule, rolled({leaf: conf}))
    assert verdict.actions == {Action.ALERT}
    assert verdict.violations[0].matched == top


@settings(max_examples=200, deadline=None)
@given(rules, st.lists(detections, min_size=1, max_size=6))
def test_window_never_exceeds_n_and_stop_needs_k_hits(rule, frames) -> None:
    state = ChannelRuleState()
    for seq, dets in enumerate(frames):
        verdict, state = evaluate(rule, rolled(dets), state, channel="c", frame_seq=seq, pts_ms=seq)
        assert len(state.hits) <= rule.auto_stop_window.n
        if verdict.stops_stream:
            assert state.recent_hits >= rule.auto_stop_window.k and state.hits[-1]
