"""The built-in default global rule, shipped as YAML package data.

It lives in a YAML file (``rules/default.yaml``) rather than in code so an
operator can read it, copy it and start their own rules from it.  It is what
:func:`framewarden.rules.resolve.resolve` returns for a channel that no rule
matches, so every channel is always moderated.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from framewarden.rules.models import Rule

DEFAULT_RULE_ID = "default"


def default_rule_yaml() -> str:
    """The text of the shipped default rule."""
    return resources.files("framewarden.rules").joinpath("default.yaml").read_text(encoding="utf-8")


@cache
def default_rule() -> Rule:
    """The built-in global rule (validated once, shared: rules are frozen)."""
    return Rule.model_validate(yaml.safe_load(default_rule_yaml()))
