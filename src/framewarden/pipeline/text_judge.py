"""Text beside a channel (chat messages, live speech) judged by the channel's own rule.

The text goes through the shared text moderator (one blocklist for OCR,
speech and chat); its labels, rolled up to their ancestors, go through the
rule that governs the channel, with a K-of-N window per channel and source
kept apart from the frames' own.  A flagged verdict becomes an alert (or a
repeat of the open one) exactly like a flagged frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from framewarden.analyzers.base import Detection
from framewarden.result import rollup
from framewarden.rules.evaluate import ChannelRuleState, evaluate
from framewarden.rules.models import Rule
from framewarden.rules.resolve import resolve
from framewarden.rules.verdict import Verdict
from framewarden.text.moderate import TextModerator, TextViolation


class AlertRecorder(Protocol):
    """What the judge needs of :class:`framewarden.actions.alerts.AlertService`."""

    def record_verdict(self, verdict: Verdict, *, evidence_key: str | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class TextJudgement:
    text: str
    violations: tuple[TextViolation, ...]
    labels: dict[str, float]
    verdict: Verdict
    alert_id: int | None = None
    evidence_key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "flagged": self.verdict.flagged,
            "labels": {k: round(v, 3) for k, v in self.labels.items()},
            "matches": [
                {
                    "label": v.label,
                    "confidence": v.confidence,
                    "kind": v.kind,
                    "term": v.term,
                    "matched": v.matched,
                }
                for v in self.violations
            ],
            "verdict": self.verdict.to_dict(),
            "alert_id": self.alert_id,
            "evidence_key": self.evidence_key,
        }


class TextJudge:
    def __init__(
        self,
        moderator: Callable[[], TextModerator],
        rules: Callable[[], Sequence[Rule]],
        alerts: AlertRecorder | None = None,
    ) -> None:
        self._moderator = moderator
        self._rules = rules
        self._alerts = alerts
        self._states: dict[tuple[str, str], ChannelRuleState] = {}
        self._seq: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def judge(
        self,
        channel: str,
        text: str,
        *,
        source: str,
        pts_ms: float = 0.0,
        evidence: Callable[[dict[str, Any]], str] | None = None,
    ) -> TextJudgement:
        """Judge ``text``; a flagged one keeps its evidence (``evidence(verdict)``) and raises an alert."""
        violations = tuple(self._moderator().moderate(text))
        detections = [Detection(v.label, v.confidence, source, "", v.raw_class) for v in violations]
        labels = {lab.name: lab.confidence for lab in rollup(detections, 0.0)}
        rule = resolve(self._rules(), channel)
        key = (channel, source)
        with self._lock:
            seq = self._seq.get(key, 0)
            self._seq[key] = seq + 1
            verdict, self._states[key] = evaluate(
                rule, labels, self._states.get(key, ChannelRuleState()), channel=channel, frame_seq=seq,
                pts_ms=pts_ms if pts_ms else time.time() * 1000,
            )  # fmt: skip
        alert_id = None
        evidence_key = ""
        if verdict.flagged:
            evidence_key = evidence(verdict.to_dict()) if evidence is not None else ""
            if self._alerts is not None:
                recorded = self._alerts.record_verdict(verdict, evidence_key=evidence_key or None)
                alert_id = recorded.alert.id if recorded is not None else None
        return TextJudgement(text, violations, labels, verdict, alert_id, evidence_key)
