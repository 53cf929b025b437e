"""The shipped default rule: valid, global, covering the categories docs promise."""

from __future__ import annotations

import pytest

from framewarden.rules.defaults import default_rule, default_rule_yaml
from framewarden.rules.models import Thresholds


def test_default_rule_is_a_catch_all_global() -> None:
    rule = default_rule()
    assert (rule.id, rule.scope, rule.enabled) == ("default", "global", True)
    assert rule.matches("") and rule.matches("any-channel")
    assert (rule.auto_stop_window.k, rule.auto_stop_window.n) == (2, 3)
    assert "id: default" in default_rule_yaml()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Explicit", Thresholds(alert=60, auto_stop=90)),
        ("Non-Explicit Nudity", Thresholds(review=80)),
        ("Violence", Thresholds(alert=70)),
        ("Visually Disturbing", Thresholds(alert=70)),
        ("Hate Symbols", Thresholds(alert=60, review=80)),
        ("Offensive Text", Thresholds(alert=70)),
    ],
)
def test_default_thresholds(name: str, expected: Thresholds) -> None:
    assert default_rule().effective_labels()[name] == expected


@pytest.mark.parametrize("name", ["Swimwear or Underwear", "Alcohol", "Gambling", "Drugs & Tobacco"])
def test_everyday_categories_do_not_alert_by_default(name: str) -> None:
    assert name not in default_rule().effective_labels()
