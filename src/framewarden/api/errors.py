"""Map framewarden's typed errors to HTTP answers, one place for all routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from framewarden.actions.controllers import ControllerError
from framewarden.engines.capacity import CapacityError
from framewarden.engines.ray_switchboard import LeaderUnavailableError
from framewarden.errors import ConfigError, InputError, TooLargeInputError
from framewarden.pipeline.channels import DuplicateChannelError, UnknownChannelError
from framewarden.store.errors import ConflictError, NotFoundError

# Starlette picks the handler of the nearest class along an exception's MRO, so a
# subclass listed here (TooLargeInputError, UnknownChannelError) wins over its base.
STATUS: dict[type[Exception], int] = {
    NotFoundError: 404,
    UnknownChannelError: 404,
    ConflictError: 409,
    DuplicateChannelError: 409,
    TooLargeInputError: 413,
    InputError: 422,
    ConfigError: 422,
    ControllerError: 502,  # the streaming server did not stop the stream: an upstream failure
    CapacityError: 503,  # no node has room for a live channel (engines/capacity.py)
    LeaderUnavailableError: 503,  # the API process that runs the channels is changing (a few seconds)
}

Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _answer(status: int) -> Handler:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler


def describe(errors: Sequence[Any]) -> str:
    """pydantic/FastAPI error lists as one line: ``body.name: Field required; query.limit: ...``."""
    parts = []
    for error in errors:
        loc = ".".join(str(p) for p in error.get("loc", ()))
        msg = str(error.get("msg", "invalid"))
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    # Every error is {"detail": "<one string>"} (docs/api.md), validation errors included.
    errors = exc.errors() if isinstance(exc, ValidationError | RequestValidationError) else []
    return JSONResponse({"detail": describe(errors)}, status_code=422)


def install(app: FastAPI) -> None:
    for kind, status in STATUS.items():
        app.add_exception_handler(kind, _answer(status))
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(RequestValidationError, _invalid)
