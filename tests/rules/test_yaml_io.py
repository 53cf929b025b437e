"""YAML export/import: exact round trip, errors naming the source, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from framewarden.errors import ConfigError
from framewarden.rules.defaults import default_rule
from framewarden.rules.models import Rule
from framewarden.rules.yaml_io import dump_rules, export_rules, import_rules, load_rules

RULES = [
    default_rule(),
    Rule(id="cam", channel="cam-1", labels={"Violence": {"review": 40}}, notify=["ops", "mail"]),
    Rule(id="old", channel_pattern="^legacy-", taxonomy_version=6, labels={"Suggestive": 70}),
]


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    export_rules(RULES, path)
    assert import_rules(path) == RULES


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("", []),
        ("[]", []),
        ("rules: []", []),
        ("- {id: a, channel: x}", [Rule(id="a", channel="x")]),
        ("rules:\n  - {id: a, channel_pattern: '^x'}", [Rule(id="a", channel_pattern="^x")]),
    ],
)
def test_accepted_shapes(text: str, rules: list[Rule]) -> None:
    assert load_rules(text) == rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", "not valid YAML"),
        ("rules: 3", "expected a list of rules"),
        ("- 3", "rule #1: expected a mapping"),
        (
            "- {id: a, channel: x}\n- {id: b, channel: y, labels: {Nope: 1}}",
            "rule 'b' (#2): labels: unknown label 'Nope'",
        ),
        ("- {id: a, channel: x, labels: {Explicit: {alert: 200}}}", "rule 'a' (#1): labels.Explicit"),
        ("- {id: a, channel: x, priority: high}", "rule 'a' (#1): priority: Input should be a valid integer"),
        ("- {id: a, channel_pattern: '(x'}", "rule 'a' (#1): channel_pattern: channel_pattern '(x' is not a"),
        ("- {channel: x}", "rule #1: id: Field required"),
        ("- {id: a, channel: x}\n- {id: a, channel: y}", "rule 'a' (#2): duplicate id"),
    ],
)
def test_errors_name_source_rule_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_rules(text, source="mine.yaml")
    assert str(info.value).startswith("mine.yaml: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read rules"):
        import_rules(tmp_path / "none.yaml")


def test_dump_is_human_readable_yaml() -> None:
    text = dump_rules([RULES[1]])
    assert text.startswith("rules:\n- id: cam\n")
    assert "review: 40.0" in text
