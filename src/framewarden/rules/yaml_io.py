"""Rules in and out as YAML, for review in git and copy between servers.

A document is a list of rule mappings, or a mapping with a ``rules`` list.
Import is all or nothing: the first invalid rule raises a
:class:`~framewarden.errors.ConfigError` whose one-line message names the
source, the rule (id, or its position when the id is missing) and the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from framewarden.errors import ConfigError
from framewarden.rules.models import Rule


def dump_rules(rules: Iterable[Rule]) -> str:
    """YAML text of ``rules`` (defaults included, so the file says everything)."""
    docs = [rule.model_dump(mode="json") for rule in rules]
    return yaml.safe_dump({"rules": docs}, sort_keys=False, allow_unicode=True)


def _where(error: Any, rule_id: object) -> str:
    """``field: message`` of one pydantic error, without repeating the rule id."""
    msg = str(error["msg"]).removeprefix("Value error, ").removeprefix(f"rule {rule_id!r}: ")
    loc = ".".join(str(p) for p in error.get("loc", ()))
    return f"{loc}: {msg}" if loc else msg


def load_rules(text: str, *, source: str = "<yaml>") -> list[Rule]:
    """Validate every rule of a YAML document; raise ConfigError on the first bad one."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None
    if doc is None:
        return []
    items = doc.get("rules") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ConfigError(f"{source}: expected a list of rules or a mapping with a 'rules' list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, item in enumerate(items, start=1):
        name = f"#{index}"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            name = f"{item['id']!r} (#{index})"
        if not isinstance(item, dict):
            raise ConfigError(f"{source}: rule {name}: expected a mapping, got {type(item).__name__}")
        try:
            rule = Rule.model_validate(item)
        except ValidationError as exc:
            raise ConfigError(f"{source}: rule {name}: {_where(exc.errors()[0], item.get('id'))}") from None
        if rule.id in seen:
            raise ConfigError(f"{source}: rule {name}: duplicate id")
        seen.add(rule.id)
        rules.append(rule)
    return rules


def export_rules(rules: Iterable[Rule], path: str | Path) -> None:
    Path(path).write_text(dump_rules(rules), encoding="utf-8")


def import_rules(path: str | Path) -> list[Rule]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read rules: {exc.strerror}") from None
    return load_rules(text, source=str(p))
