"""What the rules engine decides for one analyzed frame of one channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """Tiers of response, mildest first (their order is the severity order)."""

    ALERT = "alert"  # record an alert, notify moderators
    REVIEW = "review"  # also queue for human review
    AUTO_STOP = "auto_stop"  # also stop the stream at the streaming server

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Action.ALERT: 1, Action.REVIEW: 2, Action.AUTO_STOP: 3}


@dataclass(frozen=True, slots=True)
class Violation:
    label: str  # the taxonomy name that was found (any level)
    confidence: float  # 0-100
    rule_id: str
    threshold: float  # the min_confidence it crossed
    matched: str  # the rule key it matched (the label itself or an ancestor)
    action: Action

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 3),
            "rule_id": self.rule_id,
            "threshold": self.threshold,
            "matched": self.matched,
            "action": self.action.value,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """Violations found on a frame, and the actions to take for them."""

    channel: str
    rule_id: str
    rule_version: int
    frame_seq: int
    pts_ms: float
    violations: tuple[Violation, ...] = ()
    actions: frozenset[Action] = field(default_factory=frozenset)
    notify: tuple[str, ...] = ()  # notification target names of the rule

    @property
    def flagged(self) -> bool:
        return bool(self.violations)

    @property
    def stops_stream(self) -> bool:
        return Action.AUTO_STOP in self.actions

    @property
    def severity(self) -> int:
        """0 = clean, else the rank of the strongest action."""
        return max((a.rank for a in self.actions), default=0)

    @property
    def peak(self) -> Violation | None:
        return max(self.violations, key=lambda v: (v.action.rank, v.confidence), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "frame_seq": self.frame_seq,
            "pts_ms": self.pts_ms,
            "violations": [v.to_dict() for v in self.violations],
            "actions": sorted(a.value for a in self.actions),
            "notify": list(self.notify),
        }
