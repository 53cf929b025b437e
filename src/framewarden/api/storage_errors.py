"""Database failures as clear HTTP answers: full storage is 507, a busy database 503.

When the disk under the database fills up, a write cannot succeed until an
operator frees space; the client should learn that in words, not as a bare
500.  A database still locked after the busy timeout is a transient overload:
503 with ``Retry-After``.  Reads keep working in both cases (they do not write,
see ``api.deps.authenticate``).  Anything else stays a 500: it is a bug.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

# SQLite's and PostgreSQL's words for "no space"; 53100 is PostgreSQL's disk_full SQLSTATE.
_FULL = ("database or disk is full", "no space left on device", "disk full", "could not extend file")
_BUSY = ("database is locked", "database table is locked")


def storage_full(exc: BaseException) -> bool:
    text = str(exc).lower()
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code == "53100" or any(words in text for words in _FULL)


def _busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(words in text for words in _BUSY)


async def _operational(request: Request, exc: Exception) -> JSONResponse:
    if storage_full(exc):
        log.error("%s %s: database storage is full", request.method, request.url.path)
        return JSONResponse(
            {"detail": "storage full: the database cannot write; free disk space (reads still work)"},
            status_code=507,
        )
    if _busy(exc):
        return JSONResponse(
            {"detail": "database busy: try again shortly"}, status_code=503, headers={"Retry-After": "1"}
        )
    raise exc


def install(app: FastAPI) -> None:
    app.add_exception_handler(OperationalError, _operational)
