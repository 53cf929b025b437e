"""Which rule applies to a channel, and which channels a rule change touches.

Precedence: an enabled channel rule naming the channel exactly, then the
enabled global rules whose pattern is found in the channel name (lowest
``priority`` first, ties by id), then the built-in default rule.  Disabled
rules are skipped, never matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from framewarden.rules.defaults import default_rule
from framewarden.rules.models import Rule


def _order(rule: Rule) -> tuple[int, str]:
    return rule.priority, rule.id


def resolve(rules: Iterable[Rule], channel: str) -> Rule:
    """The rule that governs ``channel``."""
    channel_rules: list[Rule] = []
    global_rules: list[Rule] = []
    for rule in rules:
        if not rule.enabled or not rule.matches(channel):
            continue
        (channel_rules if rule.scope == "channel" else global_rules).append(rule)
    for group in (channel_rules, global_rules):
        if group:
            return min(group, key=_order)
    return default_rule()


def affected_channels(
    old_rules: Sequence[Rule], new_rules: Sequence[Rule], channels: Iterable[str]
) -> set[str]:
    """Channels whose resolved rule changed (another rule, or the same id with other content).

    Rules compare by value, so a rule saved again unchanged touches no
    channel; the caller clears the rule state of only these channels.
    """
    return {ch for ch in channels if resolve(old_rules, ch) != resolve(new_rules, ch)}
