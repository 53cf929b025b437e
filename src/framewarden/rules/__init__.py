"""Rule models and the evaluator: detections in, verdicts out."""

from framewarden.rules.evaluate import ChannelRuleState, evaluate
from framewarden.rules.models import Rule, Similarity, Thresholds, Window
from framewarden.rules.resolve import affected_channels, resolve
from framewarden.rules.verdict import Action, Verdict, Violation

__all__ = [
    "Action",
    "ChannelRuleState",
    "Rule",
    "Similarity",
    "Thresholds",
    "Verdict",
    "Violation",
    "Window",
    "affected_channels",
    "evaluate",
    "resolve",
]
