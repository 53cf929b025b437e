"""Where a scan writes, and how ``--resume`` knows what is already done.

Each input gets one JSON file in the output folder, named from the input (a
readable stem, made safe for any file system) plus a hash of the input as
given, so two inputs never share a name and a name never escapes the folder.
Files are written whole or not at all (temporary file, fsync, ``os.replace``):
an input is complete exactly when its JSON exists.  A scan killed mid-way
leaves no result for the video it was working on, so resuming redoes that
video from the start and skips the finished ones; nothing is lost and nothing
is counted twice.  Failed inputs are retried on resume (a timeout may pass).

The settings that shape results (sampling, analyzers, thresholds, dedup...)
are stored with the state (``.framewarden/scan-settings.json``); ``--resume``
with different ones is refused, naming what changed, so one folder never mixes
results of two configurations.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from framewarden import fsutil
from framewarden.errors import InputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_STEM_CHARS = 60
TMP_SUFFIX = ".part"
SETTINGS_FILE = Path(".framewarden") / "scan-settings.json"


class ResumeMismatchError(InputError):
    """``--resume`` asked with settings that differ from the run that wrote the folder."""

    kind = "resume_mismatch"


def settings_changes(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """``name: old -> new`` for every setting that differs (sorted by name)."""
    return [
        f"{key}: {before.get(key, '(unset)')} -> {now.get(key, '(unset)')}"
        for key in sorted(set(before) | set(now))
        if before.get(key) != now.get(key)
    ]


def output_stem(source: str) -> str:
    """A safe, unique file stem for ``source``: ``<readable>-<hash10>``."""
    if "://" in source:
        parts = urlsplit(source)
        tail = Path(parts.path).name or parts.netloc
    else:
        tail = Path(source).name
    readable = _UNSAFE.sub("_", tail).strip("._-")[:_STEM_CHARS] or "input"
    digest = hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{readable}-{digest}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; a leftover of a killed scan ends in ``.part``."""
    fsutil.write_atomic(path, data, suffix=TMP_SUFFIX)


def write_json_atomic(path: Path, body: Any) -> None:
    write_atomic(path, (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


class ScanState:
    """The output folder of a scan: result files and leftovers of a killed run."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.results_dir = out_dir  # one JSON per input, beside evidence/ and report.csv

    def prepare(self) -> None:
        self.check()
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.remove_partials()

    def check(self) -> None:
        """Refuse an output path that is a file (or sits under one) before any work is done."""
        for path in (self.out_dir, *self.out_dir.parents):
            if path.exists():
                if not path.is_dir():
                    raise InputError(str(self.out_dir), f"{path} exists and is not a folder (--out)")
                return

    @property
    def settings_path(self) -> Path:
        return self.out_dir / SETTINGS_FILE

    def stored_settings(self) -> dict[str, Any] | None:
        try:
            body = json.loads(self.settings_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return body if isinstance(body, dict) else None

    def bind_settings(self, settings: dict[str, Any], *, resume: bool) -> None:
        """Record the run's settings; on resume, refuse if they differ from the stored ones.

        ``settings`` must be JSON-plain (numbers, strings, lists) so that a
        round trip through the file compares equal.
        """
        plain = json.loads(json.dumps(settings, sort_keys=True))
        if resume:
            before = self.stored_settings()
            if before is not None and before != plain:
                changes = "; ".join(settings_changes(before, plain))
                raise ResumeMismatchError(
                    str(self.out_dir),
                    f"--resume with different settings than the run that wrote it ({changes}); "
                    "use the same options, or a new --out",
                )
        write_json_atomic(self.settings_path, plain)

    def remove_partials(self) -> int:
        """Delete temporary files a killed run left behind; returns how many."""
        removed = 0
        for tmp in self.out_dir.rglob(f".*{TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed += 1
        return removed

    def result_path(self, source: str) -> Path:
        return self.results_dir / f"{output_stem(source)}.json"

    def load(self, source: str) -> dict[str, Any] | None:
        """The stored result of ``source``, or None if there is none (or it is unreadable)."""
        path = self.result_path(source)
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(body, dict) or body.get("Source") != source:
            return None
        return body

    def completed(self, source: str) -> dict[str, Any] | None:
        """The stored result if ``source`` finished successfully, else None."""
        body = self.load(source)
        return body if body is not None and body.get("JobStatus") == "SUCCEEDED" else None

    def save(self, source: str, body: dict[str, Any]) -> Path:
        path = self.result_path(source)
        write_json_atomic(path, body)
        return path
