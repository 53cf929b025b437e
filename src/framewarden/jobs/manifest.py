"""What a scan reads: paths, folders, URLs and CSV manifests.

A manifest is read like an S3 Batch Operations manifest: ``bucket,key`` rows
(optionally a third ``version`` column, ignored) become ``s3://bucket/key``,
with the key URL-decoded as S3 Batch Operations writes keys URL-encoded.  A
row with a single column is a path or URL taken as is.  Blank lines and lines
starting with ``#`` are skipped.  Folders are walked recursively for video
files (by suffix); a file named explicitly is always scanned, so a wrong file
gets an error in the report rather than silence.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote_plus

from framewarden.errors import InputError

VIDEO_SUFFIXES = frozenset(
    {
        ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".flv",
        ".wmv", ".mpg", ".mpeg", ".3gp", ".ogv", ".mxf", ".f4v", ".vob", ".y4m",
    }
)  # fmt: skip


def read_manifest(path: str | Path) -> list[str]:
    """Inputs listed in a CSV manifest, in file order.

    Raises :class:`InputError` naming the manifest (and the line) when it
    cannot be used.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(name, "no such manifest file") from None
    except UnicodeDecodeError:
        raise InputError(name, "manifest is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(name, f"cannot read manifest: {exc.strerror or exc}") from None
    return parse_manifest(text, source=name)


def parse_manifest(text: str, *, source: str = "<manifest>") -> list[str]:
    inputs: list[str] = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if len(cells) == 1 or not cells[1]:
            inputs.append(cells[0])
            continue
        bucket, key = cells[0], cells[1]
        if "/" in bucket or "://" in bucket:
            raise InputError(source, f"line {lineno}: {bucket!r} is not a bucket name (expected bucket,key)")
        inputs.append(f"s3://{bucket}/{unquote_plus(key)}")
    return inputs


def expand_inputs(paths: Iterable[str], manifests: Iterable[str | Path] = ()) -> list[str]:
    """Every input to scan, in order, duplicates removed (first one kept)."""
    raw: list[str] = []
    for manifest in manifests:
        raw.extend(read_manifest(manifest))
    raw.extend(paths)
    seen: set[str] = set()
    out: list[str] = []
    for item in raw:
        for one in _walk(item):
            if one not in seen:
                seen.add(one)
                out.append(one)
    return out


def _walk(item: str) -> Iterable[str]:
    if "://" in item:
        return [item]
    path = Path(item)
    if path.is_dir():
        return [str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
    return [item]
