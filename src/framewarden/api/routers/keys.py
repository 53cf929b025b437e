"""API keys (admin): create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from framewarden.api.deps import AdminDep, SessionDep
from framewarden.api.schemas import KeyCreate, KeyCreated
from framewarden.store import keys as repo

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("")
def list_keys(session: SessionDep, _: AdminDep) -> list[dict[str, Any]]:
    return [
        {
            "id": k.id,
            "name": k.name,
            "role": k.role,
            "created_at": k.created_at,
            "last_used_at": k.last_used_at,
        }
        for k in repo.list_keys(session)
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreate, session: SessionDep, _: AdminDep) -> KeyCreated:
    row, full = repo.create_key(session, name=body.name, role=body.role)
    return KeyCreated(id=row.id, name=row.name, role=row.role, key=full)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(key_id: str, session: SessionDep, _: AdminDep) -> None:
    repo.revoke_key(session, key_id=key_id)
