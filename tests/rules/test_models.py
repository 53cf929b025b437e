"""Rule validation: ids, scope, regex bounds, labels, v6 names, JSON round trip."""

from __future__ import annotations

import logging
import re
import time

import pytest
from pydantic import ValidationError

from framewarden.rules import models
from framewarden.rules.models import Rule, Thresholds, check_pattern


def test_minimal_channel_rule_has_documented_defaults() -> None:
    rule = Rule(id="cam-1", channel="cam-1")
    assert rule.scope == "channel"
    assert (rule.priority, rule.taxonomy_version, rule.sample_interval_s) == (100, 7, 1.0)
    assert (rule.similarity.max_distance, rule.auto_stop_window.k, rule.auto_stop_window.n) == (8, 1, 1)
    assert rule.labels == {} and rule.ignore == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": "Bad"}, "must match"),
        ({"id": "-x"}, "must match"),
        ({"id": "a b"}, "must match"),
        ({"id": "ok"}, "exactly one of channel"),  # neither channel nor pattern
        ({"id": "ok", "channel": "a", "channel_pattern": "a"}, "exactly one of channel"),
        ({"id": "ok", "channel_pattern": "("}, "not a valid regex"),
        ({"id": "ok", "channel_pattern": "(a+)+$"}, "nests repetition"),
        ({"id": "ok", "channel_pattern": "(a*)*"}, "nests repetition"),
        ({"id": "ok", "channel_pattern": "(?:x|(y+))+z"}, "nests repetition"),
        ({"id": "ok", "channel_pattern": "a" * 300}, "max 256"),
        ({"id": "ok", "channel": "a", "labels": {"Nope": 50}}, "unknown label 'Nope'"),
        ({"id": "ok", "channel": "a", "labels": {"Face Female": 50}}, "content tag"),
        ({"id": "ok", "channel": "a", "ignore": ["Nope"]}, "ignore: unknown label"),
        ({"id": "ok", "channel": "a", "labels": {"Explicit": 101}}, "not within 0-100"),
        ({"id": "ok", "channel": "a", "labels": {"Explicit": {}}}, "at least one"),
        ({"id": "ok", "channel": "a", "labels": {"Explicit": {"alert": -1}}}, "greater than or equal"),
        ({"id": "ok", "channel": "a", "auto_stop_window": {"k": 3, "n": 2}}, "larger than n"),
        ({"id": "ok", "channel": "a", "colour": "red"}, "Extra inputs"),
        ({"id": "ok", "channel": "a", "taxonomy_version": 5}, "Input should be 6 or 7"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Rule.model_validate(fields)


def test_regex_error_names_the_rule() -> None:
    with pytest.raises(ValidationError, match="rule 'night-shows'"):
        Rule(id="night-shows", channel_pattern="[unclosed")


@pytest.mark.parametrize(
    ("pattern", "channel", "matches"),
    [
        ("", "anything", True),  # empty pattern: every channel
        ("cam", "backyard-cam-2", True),  # re.search: partial match anywhere
        ("^cam", "backyard-cam-2", False),
        ("^cam", "cam-2", True),
        ("cam$", "cam-2", False),
        ("-2$", "cam-2", True),
        ("^cam-\\d+$", "cam-12", True),
        ("^cam-\\d+$", "cam-12x", False),
        ("(?i)^CAM", "cam-1", True),
        ("a{2,3}", "xaay", True),  # bounded repeat is fine
    ],
)
def test_pattern_uses_search_semantics(pattern: str, channel: str, matches: bool) -> None:
    assert Rule(id="g", channel_pattern=pattern).matches(channel) is matches


def test_channel_rule_matches_exact_name_only() -> None:
    rule = Rule(id="c", channel="cam")
    assert rule.matches("cam") and not rule.matches("cam-2") and not rule.matches("Cam")


def test_hostile_channel_name_is_bounded() -> None:
    # A permitted (non-nested) pattern over a huge name still answers quickly:
    # names are cut to MAX_CHANNEL_LENGTH before the search.
    rule = Rule(id="g", channel_pattern="a.*b.*c.*d$")
    start = time.perf_counter()
    assert not rule.matches("a" * 1_000_000)
    assert time.perf_counter() - start < 5  # generous: only catches runaway backtracking


def test_check_pattern_returns_compiled_regex() -> None:
    assert check_pattern("^x").search("xy")


def test_json_round_trip_is_exact() -> None:
    rule = Rule(
        id="r1",
        channel_pattern="^live-",
        labels={"Explicit": 70, "Violence": {"alert": 60, "auto_stop": 95}},
        ignore=["Kissing on the Lips"],
        auto_stop_window={"k": 2, "n": 3},
        notify=["ops"],
    )
    data = rule.model_dump(mode="json")
    assert data["labels"]["Violence"] == {"alert": 60.0, "review": None, "auto_stop": 95.0}
    again = Rule.model_validate(data)
    assert again == rule and again.model_dump(mode="json") == data
    assert Rule.model_validate_json(rule.model_dump_json()) == rule


def test_rules_differing_in_one_threshold_are_not_equal() -> None:
    a = Rule(id="r", channel="c", labels={"Explicit": 70})
    assert a != Rule(id="r", channel="c", labels={"Explicit": 71})


def test_v6_rule_translates_old_names() -> None:
    rule = Rule(id="old", channel="c", taxonomy_version=6, labels={"Explicit Nudity": 60}, ignore=["Tobacco"])
    # In a v6 rule "Explicit Nudity" is the whole old category, now "Explicit".
    assert set(rule.effective_labels()) == {"Explicit"}
    assert rule.effective_ignore() == {"Drugs & Tobacco Paraphernalia & Use"}
    # In a v7 rule the same spelling is the narrower level-2 label.
    assert set(Rule(id="new", channel="c", labels={"Explicit Nudity": 60}).effective_labels()) == {
        "Explicit Nudity"
    }


def test_v6_name_in_v7_rule_warns_once_per_name(caplog: pytest.LogCaptureFixture) -> None:
    models._warned_v6.discard("Suggestive")
    with caplog.at_level(logging.WARNING, logger="framewarden.rules.models"):
        rule = Rule(id="mixed", channel="c", labels={"Suggestive": 55})
        rule.effective_labels()
        Rule(id="other", channel="c", labels={"Suggestive": 70})
    warnings = [r for r in caplog.records if "Suggestive" in r.getMessage()]
    assert len(warnings) == 1
    assert set(rule.effective_labels()) == {
        "Non-Explicit Nudity of Intimate parts and Kissing",
        "Swimwear or Underwear",
    }


def test_direct_name_wins_over_translated_and_translations_keep_stricter() -> None:
    rule = Rule(
        id="x",
        channel="c",
        labels={"Suggestive": 80, "Swimwear or Underwear": 95, "Drugs": 70, "Tobacco": {"alert": 60}},
    )
    eff = rule.effective_labels()
    assert eff["Swimwear or Underwear"].alert == 95  # written directly
    assert eff["Non-Explicit Nudity of Intimate parts and Kissing"].alert == 80
    assert eff["Drugs & Tobacco"].alert == 70
    assert eff["Drugs & Tobacco Paraphernalia & Use"].alert == 60


def test_plain_number_means_alert_threshold() -> None:
    rule = Rule(id="x", channel="c", labels={"Gambling": 42})
    assert rule.effective_labels()["Gambling"] == Thresholds(alert=42)


def test_rule_is_frozen() -> None:
    rule = Rule(id="x", channel="c")
    with pytest.raises(ValidationError):
        rule.priority = 1  # type: ignore[misc]
