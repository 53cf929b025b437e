"""Precedence: channel rule > matching globals by priority (ties by id) > default."""

from __future__ import annotations

import pytest

from framewarden.rules.defaults import default_rule
from framewarden.rules.models import Rule
from framewarden.rules.resolve import affected_channels, resolve

RULES = [
    Rule(id="cam-only", channel="cam-1", priority=999),
    Rule(id="cam-off", channel="cam-2", enabled=False),
    Rule(id="all-cams", channel_pattern="^cam-", priority=50),
    Rule(id="b-tie", channel_pattern="cam", priority=10),
    Rule(id="a-tie", channel_pattern="-3$", priority=10),
    Rule(id="off-global", channel_pattern="", priority=0, enabled=False),
    Rule(id="shows", channel_pattern="^show-", priority=200),
    Rule(id="late-show", channel_pattern="^show-late", priority=300),
]


@pytest.mark.parametrize(
    ("rules", "channel", "expected"),
    [
        ([], "anything", "default"),
        (RULES, "cam-1", "cam-only"),  # channel rule beats any global, whatever its priority
        (RULES, "cam-2", "b-tie"),  # disabled channel rule skipped; lowest priority global
        (RULES, "cam-3", "a-tie"),  # equal priority: id decides
        (RULES, "show-late-1", "shows"),  # 200 < 300
        (RULES, "radio", "default"),  # disabled catch-all is skipped
        (RULES, "CAM-1", "default"),  # names are case sensitive
    ],
)
def test_precedence(rules: list[Rule], channel: str, expected: str) -> None:
    assert resolve(rules, channel).id == expected


def test_default_is_the_builtin_rule() -> None:
    assert resolve([], "x") is default_rule()


def test_operator_rule_named_default_is_an_ordinary_rule() -> None:
    mine = Rule(id="default", channel_pattern="", priority=5, labels={"Gambling": 10})
    assert resolve([mine], "x") == mine


@pytest.mark.parametrize(
    ("new_rules", "expected"),
    [
        (RULES, set()),  # nothing changed
        ([*RULES[:2], RULES[2].model_copy(update={"priority": 1}), *RULES[3:]], {"cam-2", "cam-3"}),
        ([r for r in RULES if r.id != "cam-only"], {"cam-1"}),
        ([*RULES, Rule(id="radio", channel="radio")], {"radio"}),
        (
            [
                *[r for r in RULES if r.id != "shows"],
                Rule(id="shows", channel_pattern="^show-", priority=200, labels={"Gambling": 50}),
            ],
            {"show-late-1"},
        ),  # same id, other content
    ],
)
def test_affected_channels(new_rules: list[Rule], expected: set[str]) -> None:
    channels = ["cam-1", "cam-2", "cam-3", "show-late-1", "radio"]
    assert affected_channels(RULES, new_rules, channels) == expected
