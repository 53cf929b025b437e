"""``GET /v1/controllers``: the operator's stream controllers, by name and type only.

Controllers are defined in the server's settings (``[controllers.NAME]``) and a
channel names one (``POST /v1/channels`` with ``"controller": NAME``); this
list is how a client (the dashboard's channel form) learns the names.  A
controller's config holds URLs, headers with tokens or a program's argv, so
the answer carries the name and the type and nothing else; names are no more
secret than a channel's ``controller`` field, hence viewer.
"""

from __future__ import annotations

from fastapi import APIRouter

from framewarden.api.deps import RuntimeDep, ViewerDep
from framewarden.api.schemas import ControllerPublic

router = APIRouter(prefix="/v1/controllers", tags=["channels"])


@router.get("")
def list_controllers(runtime: RuntimeDep, _: ViewerDep) -> list[ControllerPublic]:
    """The controllers a channel may name, sorted by name."""
    return [ControllerPublic(name=name, type=kind) for name, kind in runtime.controllers.types().items()]
