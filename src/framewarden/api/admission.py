"""Admission control for pushed images: refuse at the door when inference is saturated.

A request past capacity should cost the server nothing: not reading a 25 MB
body, not decoding it, not a thread.  :class:`Admission` counts the image
requests in flight (reading, decoding, queued or in inference); past its
limit a new one is refused before its body is read, so refusals stay fast
however hard the server is pushed, and the work in flight is bounded.

:func:`install` maps :class:`InferenceSaturatedError` to ``503`` with
``Retry-After`` for every route (the image route, and any other caller of
``Runtime.moderate_bytes``), so saturation is never a 500.
"""

from __future__ import annotations

import math
import threading

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from framewarden.pipeline.batcher import InferenceSaturatedError


async def _saturated(_: Request, exc: Exception) -> JSONResponse:
    retry_after = getattr(exc, "retry_after_s", 1.0)
    return JSONResponse(
        {"detail": f"inference is saturated: {exc}"},
        status_code=503,
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(InferenceSaturatedError, _saturated)


class Admission:
    """A non-blocking counter of requests in flight, at most ``limit``."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.refused = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def try_enter(self) -> bool:
        """Take a place if one is free (never waits)."""
        with self._lock:
            if self._in_flight >= self.limit:
                self.refused += 1
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
