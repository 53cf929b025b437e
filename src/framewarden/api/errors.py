"""Map framewarden's typed errors to HTTP answers, one place for all routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from framewarden.engines.capacity import CapacityError
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
    CapacityError: 503,  # no node has room for a live channel (engines/capacity.py)
}

Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _answer(status: int) -> Handler:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return JSONResponse({"detail": exc.errors(include_url=False, include_context=False)}, status_code=422)


def install(app: FastAPI) -> None:
    for kind, status in STATUS.items():
        app.add_exception_handler(kind, _answer(status))
    app.add_exception_handler(ValidationError, _invalid)
