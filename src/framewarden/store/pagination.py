"""Keyset pagination: stable pages over tables that grow while they are read.

Offsets skip or repeat rows when results are appended between two page
requests (a live channel writes several per second); a cursor that names the
last row seen (its sort value and id) does not.  The cursor is opaque to
clients: URL-safe base64 of a small JSON list.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from framewarden.errors import InputError

T = TypeVar("T")

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None  # None: this was the last page
    extra: dict[str, Any] = field(default_factory=dict)


def encode_cursor(value: datetime | float | int, row_id: int | str) -> str:
    raw = ["t", value.isoformat()] if isinstance(value, datetime) else ["n", value]
    data = json.dumps([*raw, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime | float, int | str]:
    try:
        data = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, row_id = json.loads(data)
        parsed: datetime | float = datetime.fromisoformat(value) if kind == "t" else float(value)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InputError("cursor", f"not a cursor of this listing ({cursor[:40]!r})") from exc
    return parsed, row_id


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError("limit", f"must be 1..{MAX_LIMIT}, got {limit}")
    return limit


def paginate(
    session: Session,
    stmt: Select[Any],
    *,
    sort: InstrumentedAttribute[Any],
    key: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
    descending: bool = False,
    sort_value: Callable[[Any], Any] | None = None,
) -> Page[Any]:
    """One page of ``stmt``'s rows ordered by ``(sort, key)``, after ``cursor``."""
    check_limit(limit)
    if cursor:
        value, last_id = decode_cursor(cursor)
        after = (
            or_(sort < value, and_(sort == value, key < last_id))
            if descending
            else or_(sort > value, and_(sort == value, key > last_id))
        )
        stmt = stmt.where(after)
    order = (sort.desc(), key.desc()) if descending else (sort.asc(), key.asc())
    rows: Sequence[Any] = session.scalars(stmt.order_by(*order).limit(limit + 1)).all()
    items = list(rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        value_of = sort_value or (lambda row: getattr(row, sort.key))
        next_cursor = encode_cursor(value_of(last), getattr(last, key.key))
    return Page(items, next_cursor)
