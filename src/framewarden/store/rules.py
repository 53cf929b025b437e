"""Rules as versioned JSON documents: the current body plus every change ever made.

The body is the JSON form of :class:`framewarden.rules.models.Rule`; the
columns beside it (scope, channel, priority, enabled) are copies for
selecting without parsing JSON.  Each create, update and delete appends a
row to ``rule_versions`` with its author, so "who changed what, when" is
answerable after the rule itself is gone.  Versions of a rule id only grow,
even across a delete and a re-create, so a (rule_id, version) pair quoted
by an alert always names one body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from framewarden.errors import ConfigError
from framewarden.rules.models import Rule
from framewarden.store.errors import ConflictError, NotFoundError
from framewarden.store.models import RuleRow, RuleVersion, utcnow

RuleAction = Literal["create", "update", "delete"]


def normalize_rule(body: Mapping[str, Any] | Rule) -> dict[str, Any]:
    """The canonical JSON body of a rule, validated by the Rule model.

    Accepts a mapping or a ``Rule``.  Invalid rules raise ``ConfigError``
    naming the rule.
    """
    if isinstance(body, Rule):
        return body.model_dump(mode="json")
    rule_id = body.get("id", "?") if isinstance(body, Mapping) else "?"
    try:
        return Rule.model_validate(dict(body)).model_dump(mode="json")
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'rule'}: {e['msg']}" for e in exc.errors()[:3])
        raise ConfigError(f"rule {rule_id!r}: invalid ({reasons})") from exc


def create_rule(session: Session, *, body: Mapping[str, Any] | Rule, author: str) -> RuleRow:
    doc = normalize_rule(body)
    if session.get(RuleRow, doc["id"]) is not None:
        raise ConflictError("rule", doc["id"], "already exists")
    row = RuleRow(id=doc["id"], version=_next_version(session, doc["id"]), body=doc)
    _copy_columns(row, doc)
    session.add(row)
    _record(session, row.id, row.version, "create", doc, author)
    session.flush()
    return row


def update_rule(session: Session, *, body: Mapping[str, Any] | Rule, author: str) -> RuleRow:
    """Replace a rule's body; a body equal to the current one makes no new version."""
    doc = normalize_rule(body)
    row = require_rule(session, rule_id=doc["id"])
    if row.body == doc:
        return row
    row.version = _next_version(session, row.id)
    row.body = doc
    row.updated_at = utcnow()
    _copy_columns(row, doc)
    _record(session, row.id, row.version, "update", doc, author)
    session.flush()
    return row


def save_rule(session: Session, *, body: Mapping[str, Any] | Rule, author: str) -> RuleRow:
    """Create or update, by the body's id."""
    doc = normalize_rule(body)
    if session.get(RuleRow, doc["id"]) is None:
        return create_rule(session, body=doc, author=author)
    return update_rule(session, body=doc, author=author)


def delete_rule(session: Session, *, rule_id: str, author: str) -> None:
    row = require_rule(session, rule_id=rule_id)
    _record(session, rule_id, _next_version(session, rule_id), "delete", row.body, author)
    session.delete(row)
    session.flush()


def get_rule(session: Session, *, rule_id: str) -> RuleRow | None:
    return session.get(RuleRow, rule_id)


def require_rule(session: Session, *, rule_id: str) -> RuleRow:
    row = session.get(RuleRow, rule_id)
    if row is None:
        raise NotFoundError("rule", rule_id)
    return row


def list_rules(
    session: Session,
    *,
    scope: Literal["channel", "global"] | None = None,
    channel: str | None = None,
    enabled: bool | None = None,
) -> Sequence[RuleRow]:
    """Rules ordered as they are resolved: channel rules first, then by priority, then id."""
    stmt = select(RuleRow).order_by(RuleRow.scope, RuleRow.priority, RuleRow.id)
    if scope is not None:
        stmt = stmt.where(RuleRow.scope == scope)
    if channel is not None:
        stmt = stmt.where(RuleRow.channel == channel)
    if enabled is not None:
        stmt = stmt.where(RuleRow.enabled == enabled)
    return session.scalars(stmt).all()


def load_rules(session: Session, *, enabled_only: bool = True) -> list[Rule]:
    """The stored rules as ``Rule`` models, ready for ``framewarden.rules.resolve.resolve``."""
    rows = list_rules(session, enabled=True if enabled_only else None)
    return [Rule.model_validate(row.body) for row in rows]


def rule_history(session: Session, *, rule_id: str) -> Sequence[RuleVersion]:
    """Every version of ``rule_id``, oldest first (empty if it never existed)."""
    stmt = select(RuleVersion).where(RuleVersion.rule_id == rule_id).order_by(RuleVersion.version)
    return session.scalars(stmt).all()


def get_rule_version(session: Session, *, rule_id: str, version: int) -> RuleVersion | None:
    return session.get(RuleVersion, (rule_id, version))


def _next_version(session: Session, rule_id: str) -> int:
    last = session.scalar(select(func.max(RuleVersion.version)).where(RuleVersion.rule_id == rule_id))
    return (last or 0) + 1


def _copy_columns(row: RuleRow, doc: dict[str, Any]) -> None:
    row.channel = doc.get("channel") or None
    row.channel_pattern = doc.get("channel_pattern") or None
    row.scope = "channel" if row.channel else "global"
    row.priority = int(doc.get("priority", 100))
    row.enabled = bool(doc.get("enabled", True))


def _record(
    session: Session, rule_id: str, version: int, action: RuleAction, doc: dict[str, Any], author: str
) -> None:
    session.add(
        RuleVersion(
            rule_id=rule_id, version=version, action=action, body=doc, author=author, changed_at=utcnow()
        )
    )
