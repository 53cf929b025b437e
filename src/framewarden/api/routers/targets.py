"""Notification targets through the API: list, create, test-send, delete.

Targets from settings are listed (read-only) next to the stored ones.  What
the API may create is narrower than what settings may say, because the
operator has not reviewed it: a webhook may only call a host listed in
``FRAMEWARDEN_API_WEBHOOK_HOSTS``, and an e-mail target only names
recipients (the SMTP server, its credentials and CA file stay the
settings'), so no request can make the server reach an address or read a
file the operator did not allow.  Admin only: targets hold secrets, which
are masked in every answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, HTTPException, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from framewarden.actions.notifiers import Message, NotificationError, build_notifier, parse_target
from framewarden.api.deps import AdminDep, RuntimeDep, SessionDep
from framewarden.api.errors import describe
from framewarden.store import notifications as notifications_repo
from framewarden.store import targets as repo

if TYPE_CHECKING:
    from framewarden.api.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["notifications"])
MASK = "********"
API_FIELDS = {
    "webhook": {"name", "type", "url", "secret", "headers", "timeout_s"},
    "email": {"name", "type", "to", "subject_prefix"},
}


def load_stored_targets(runtime: Runtime) -> None:
    """Give the dispatcher the stored targets (settings' own win on a name clash)."""
    with runtime.db.read() as session:
        rows = [(r.name, dict(r.body)) for r in repo.list_targets(session)]
    for name, body in rows:
        if runtime.dispatcher.notifier(name) is None:
            runtime.dispatcher.set_notifier(name, build_notifier(parse_target(body), runtime.settings))


def masked(body: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    for secret in ("secret", "password"):
        if out.get(secret):
            out[secret] = MASK
    if out.get("headers"):
        out["headers"] = dict.fromkeys(out["headers"], MASK)
    return out


def _settings_targets(runtime: Runtime) -> dict[str, dict[str, Any]]:
    return {str(t.get("name")): dict(t) for t in runtime.settings.notification_targets}


def _invalid(loc: str, msg: str) -> HTTPException:
    # One string, as every error (docs/api.md): "body.url: ..." names the field for the form.
    detail = describe([{"loc": ("body", loc), "msg": msg}])
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def check_api_target(body: dict[str, Any], allowed_hosts: list[str]) -> dict[str, Any]:
    """The target's JSON if the API may create it; 422 naming the field otherwise."""
    kind = body.get("type")
    if kind not in API_FIELDS:
        raise _invalid("type", "type must be 'webhook' or 'email'")
    for key in body:
        if key not in API_FIELDS[kind]:
            raise _invalid(key, f"{key!r} cannot be set through the API (only in settings)")
    try:
        target = parse_target(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, describe(errors)) from None
    if kind == "webhook":
        host = (urlsplit(str(body["url"])).hostname or "").lower()
        if host not in {h.lower() for h in allowed_hosts}:
            raise _invalid(
                "url",
                f"host {host!r} is not one the operator allowed for API webhooks "
                "(FRAMEWARDEN_API_WEBHOOK_HOSTS)",
            )
    return target.model_dump(mode="json")


@router.get("/notification-targets")
def list_targets(runtime: RuntimeDep, session: SessionDep, _: AdminDep) -> list[dict[str, Any]]:
    """Settings' targets (read-only) and the stored ones, secrets masked."""
    out = [
        {"name": name, "type": t.get("type", ""), "source": "settings", "target": masked(t), "created_by": ""}
        for name, t in _settings_targets(runtime).items()
    ]
    out += [
        {
            "name": r.name,
            "type": r.type,
            "source": "api",
            "target": masked(r.body),
            "created_by": r.created_by,
        }
        for r in repo.list_targets(session)
    ]
    return out


@router.post("/notification-targets", status_code=status.HTTP_201_CREATED)
def create_target(
    runtime: RuntimeDep, principal: AdminDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    target = check_api_target(body, runtime.settings.api_webhook_hosts)
    if target["name"] in _settings_targets(runtime):
        raise _invalid("name", f"target {target['name']!r} is defined in settings")
    with runtime.db.begin() as session:
        row = repo.create_target(session, body=target, created_by=principal.identity)
        out = {"name": row.name, "type": row.type, "source": "api", "target": masked(row.body)}
    runtime.dispatcher.set_notifier(target["name"], build_notifier(parse_target(target), runtime.settings))
    return {**out, "created_by": principal.identity}


@router.delete("/notification-targets/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_target(name: str, runtime: RuntimeDep, _: AdminDep) -> None:
    if name in _settings_targets(runtime):
        raise HTTPException(status.HTTP_409_CONFLICT, f"target {name!r} is defined in settings")
    with runtime.db.begin() as session:
        repo.delete_target(session, name=name)
    runtime.dispatcher.set_notifier(name, None)


@router.post("/notification-targets/{name}/test")
async def test_target(name: str, runtime: RuntimeDep, principal: AdminDep) -> dict[str, Any]:
    """Send one test message now (no retries); the attempt goes into the delivery log."""
    notifier = runtime.dispatcher.notifier(name)
    if notifier is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"notification target {name!r} not found")
    message = Message(
        kind="test",
        channel="",
        alert_id=None,
        summary=f"framewarden test notification, sent by {principal.name}",
    )
    error: str | None = None
    try:
        await run_in_threadpool(notifier.send, message)
    except NotificationError as exc:
        error = exc.reason
    except Exception as exc:  # a broken target must answer, not crash the route
        error = type(exc).__name__
    recorder = notifications_repo.make_recorder(runtime.db)
    await run_in_threadpool(recorder, name, None, 1, "failed" if error else "ok", error, datetime.now(UTC))
    return {"name": name, "ok": error is None, "error": error}
