"""Rules: global and channel rules, CRUD with versions, YAML export and import.

The built-in default rule applies to every channel no stored rule matches; it
is listed (read-only, ``"built_in": true``) so operators see what is in force.
A rule naming a notification target the server does not know is refused when
saved (422), as an unknown label is.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response, status

from framewarden.api.deps import AdminDep, RuntimeDep, SessionDep, ViewerDep
from framewarden.api.runtime import Runtime
from framewarden.errors import InputError
from framewarden.rules.defaults import DEFAULT_RULE_ID, default_rule
from framewarden.rules.models import Rule
from framewarden.rules.yaml_io import dump_rules, load_rules
from framewarden.store import rules as repo

router = APIRouter(prefix="/v1/rules", tags=["rules"])


def _public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "version": row.version, "rule": row.body, "built_in": False}


def _built_in() -> dict[str, Any]:
    rule = default_rule()
    return {"id": rule.id, "version": 0, "rule": rule.model_dump(mode="json"), "built_in": True}


def _check_targets(runtime: Runtime, rules: list[Rule]) -> None:
    """Refuse rules that notify a target the server has no configuration for."""
    known = {str(t.get("name")) for t in runtime.settings.notification_targets}
    for rule in rules:
        unknown = sorted(set(rule.notify) - known)
        if unknown:
            names = ", ".join(repr(n) for n in unknown)
            have = ", ".join(sorted(known)) or "none configured"
            raise InputError(f"rule {rule.id}", f"unknown notification target {names} (known: {have})")


@router.get("")
def list_rules(session: SessionDep, _: ViewerDep) -> list[dict[str, Any]]:
    """Stored rules, then the built-in default rule (read-only) unless a stored rule replaces it."""
    stored = [_public(r) for r in repo.list_rules(session)]
    if all(r["id"] != DEFAULT_RULE_ID for r in stored):
        stored.append(_built_in())
    return stored


@router.get("/export", response_class=Response, responses={200: {"content": {"application/yaml": {}}}})
def export_rules(session: SessionDep, _: ViewerDep) -> Response:
    rules = [Rule.model_validate(r.body) for r in repo.list_rules(session)]
    return Response(dump_rules(rules), media_type="application/yaml")


@router.post("/import")
def import_rules(
    runtime: RuntimeDep,
    principal: AdminDep,
    text: str = Body(..., media_type="application/yaml", description="A YAML list of rules."),
) -> dict[str, Any]:
    """Create or update every rule of the YAML document (all or nothing)."""
    rules = load_rules(text, source="request body")
    _check_targets(runtime, rules)
    with runtime.db.begin() as session:
        for rule in rules:
            repo.save_rule(session, body=rule, author=principal.identity)
    affected = runtime.reload_rules()
    return {"imported": [r.id for r in rules], "affected_channels": sorted(affected)}


@router.post("", status_code=status.HTTP_201_CREATED)
def create_rule(rule: Rule, runtime: RuntimeDep, principal: AdminDep) -> dict[str, Any]:
    _check_targets(runtime, [rule])
    with runtime.db.begin() as session:
        row = repo.create_rule(session, body=rule, author=principal.identity)
        out = _public(row)
    out["affected_channels"] = sorted(runtime.reload_rules())
    return out


@router.get("/{rule_id}")
def get_rule(rule_id: str, session: SessionDep, _: ViewerDep) -> dict[str, Any]:
    if rule_id == DEFAULT_RULE_ID and repo.get_rule(session, rule_id=rule_id) is None:
        return _built_in()
    return _public(repo.require_rule(session, rule_id=rule_id))


@router.put("/{rule_id}")
def put_rule(rule_id: str, rule: Rule, runtime: RuntimeDep, principal: AdminDep) -> dict[str, Any]:
    if rule.id != rule_id:
        raise InputError(f"rule {rule_id}", f"body id {rule.id!r} differs from the URL")
    _check_targets(runtime, [rule])
    with runtime.db.begin() as session:
        row = repo.save_rule(session, body=rule, author=principal.identity)
        out = _public(row)
    out["affected_channels"] = sorted(runtime.reload_rules())
    return out


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: str, runtime: RuntimeDep, principal: AdminDep) -> None:
    with runtime.db.begin() as session:
        repo.delete_rule(session, rule_id=rule_id, author=principal.identity)
    runtime.reload_rules()


@router.get("/{rule_id}/history")
def rule_history(rule_id: str, session: SessionDep, _: ViewerDep) -> list[dict[str, Any]]:
    """Who changed what, when."""
    return [
        {
            "version": v.version,
            "action": v.action,
            "author": v.author,
            "changed_at": v.changed_at,
            "rule": v.body,
        }
        for v in repo.rule_history(session, rule_id=rule_id)
    ]
