"""The evaluator: one frame's labels + a rule + the channel's state -> a Verdict.

Pure and small on purpose: no clock, no I/O, no mutable state.  The only
memory a channel needs between frames (the K-of-N auto-stop window) travels
in a frozen :class:`ChannelRuleState` that the caller passes in and gets
back, so a worker can be restarted, moved to a Ray actor, or replayed in a
test without hidden state.

Which labels are judged: the frame's labels come rolled up (a level-3 label
also reports its ancestors with the highest confidence among their
children).  An ancestor whose confidence is fully explained by a child
present in the frame is *not* judged again on its own; it was only a
summary.  That is what lets a leaf key be more lenient than its parent's
key, and lets an ignored leaf stay ignored although its parents are
reported.  An ancestor with a confidence above all its present children was
seen directly by some analyzer and is judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from framewarden import taxonomy
from framewarden.rules.models import Rule, Thresholds
from framewarden.rules.verdict import Action, Verdict, Violation

# Tiers of a threshold set, strongest first.
_TIERS: tuple[tuple[Action, str], ...] = (
    (Action.AUTO_STOP, "auto_stop"),
    (Action.REVIEW, "review"),
    (Action.ALERT, "alert"),
)


@dataclass(frozen=True, slots=True)
class ChannelRuleState:
    """What a channel remembers between frames for one rule.

    ``hits``: for the last analyzed frames (oldest first, at most the rule's
    window ``n``), whether any label crossed an auto-stop threshold.
    """

    rule_id: str = ""
    hits: tuple[bool, ...] = ()

    @property
    def recent_hits(self) -> int:
        return sum(self.hits)


def judged_labels(labels: Mapping[str, float]) -> dict[str, float]:
    """The taxonomy labels of a frame that are judged (see the module doc).

    Tags and unknown names are dropped; an ancestor is dropped when a child
    present in ``labels`` explains its confidence.
    """
    known = {name: float(conf) for name, conf in labels.items() if taxonomy.is_label(name)}
    best_child: dict[str, float] = {}
    for name, conf in known.items():
        parent = taxonomy.NODES[name].parent
        if parent and conf > best_child.get(parent, -1.0):
            best_child[parent] = conf
    return {name: conf for name, conf in known.items() if conf > best_child.get(name, -1.0)}


def governing_key(name: str, keys: Mapping[str, Thresholds]) -> str | None:
    """The most specific key of ``keys`` covering ``name`` (itself, then its ancestors)."""
    for candidate in (name, *taxonomy.ancestors(name)):
        if candidate in keys:
            return candidate
    return None


def _crossed(limits: Thresholds, confidence: float) -> list[tuple[Action, float]]:
    """Tiers whose threshold ``confidence`` reaches, strongest first."""
    out = []
    for action, attr in _TIERS:
        threshold = getattr(limits, attr)
        if threshold is not None and confidence >= threshold:
            out.append((action, float(threshold)))
    return out


def evaluate(
    rule: Rule,
    labels: Mapping[str, float],
    state: ChannelRuleState,
    *,
    channel: str,
    frame_seq: int,
    pts_ms: float,
    rule_version: int = 0,
) -> tuple[Verdict, ChannelRuleState]:
    """Judge one analyzed frame; return its verdict and the channel's next state.

    ``labels``: taxonomy name -> confidence (0-100), ancestors included, as
    ``ModerationResult.labels`` reports them.  A state of another rule is
    ignored (a rule change starts a fresh window).  A disabled rule judges
    nothing and leaves the state as it was.
    """
    if state.rule_id != rule.id:
        state = ChannelRuleState(rule_id=rule.id)
    if not rule.enabled:
        return Verdict(channel, rule.id, rule_version, frame_seq, pts_ms, notify=tuple(rule.notify)), state

    keys = rule.effective_labels()
    ignored = rule.effective_ignore()
    # label -> (tiers crossed, key)
    crossed: dict[str, tuple[list[tuple[Action, float]], str, float]] = {}
    for name, conf in judged_labels(labels).items():
        if any(taxonomy.is_within(name, root) for root in ignored):
            continue
        key = governing_key(name, keys)
        if key is None:
            continue
        tiers = _crossed(keys[key], conf)
        if tiers:
            crossed[name] = (tiers, key, conf)

    hit = any(tiers[0][0] is Action.AUTO_STOP for tiers, _, _ in crossed.values())
    window = rule.auto_stop_window
    hits = (*state.hits, hit)[-window.n :]
    stop = hit and sum(hits) >= window.k

    violations = []
    for name, (tiers, key, conf) in crossed.items():
        action, threshold = tiers[0]
        if action is Action.AUTO_STOP and not stop:
            # Above the stop threshold but the window is not full yet: the
            # frame still counts at the next tier, and at least as an alert.
            action, threshold = tiers[1] if len(tiers) > 1 else (Action.ALERT, threshold)
        violations.append(Violation(name, conf, rule.id, threshold, key, action))
    violations.sort(key=lambda v: (-v.action.rank, -v.confidence, v.label))

    strongest = max((v.action.rank for v in violations), default=0)
    actions = frozenset(a for a in Action if a.rank <= strongest)
    verdict = Verdict(
        channel=channel,
        rule_id=rule.id,
        rule_version=rule_version,
        frame_seq=frame_seq,
        pts_ms=pts_ms,
        violations=tuple(violations),
        actions=actions,
        notify=tuple(rule.notify),
    )
    return verdict, ChannelRuleState(rule_id=rule.id, hits=hits)
