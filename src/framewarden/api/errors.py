"""Map framewarden's typed errors to HTTP answers, one place for all routers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from framewarden.errors import ConfigError, InputError, TooLargeInputError
from framewarden.pipeline.channels import DuplicateChannelError, UnknownChannelError
from framewarden.store.errors import ConflictError, NotFoundError


def _json(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return _json(404, str(exc))

    @app.exception_handler(UnknownChannelError)
    async def _unknown_channel(_: Request, exc: UnknownChannelError) -> JSONResponse:
        return _json(404, str(exc))

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return _json(409, str(exc))

    @app.exception_handler(DuplicateChannelError)
    async def _duplicate(_: Request, exc: DuplicateChannelError) -> JSONResponse:
        return _json(409, str(exc))

    @app.exception_handler(TooLargeInputError)
    async def _too_large(_: Request, exc: TooLargeInputError) -> JSONResponse:
        return _json(413, str(exc))

    @app.exception_handler(InputError)
    async def _bad_input(_: Request, exc: InputError) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(ConfigError)
    async def _bad_config(_: Request, exc: ConfigError) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(ValidationError)
    async def _invalid(_: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": exc.errors(include_url=False, include_context=False)}, status_code=422)
