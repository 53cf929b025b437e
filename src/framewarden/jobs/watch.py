"""Watch an S3-compatible bucket prefix and moderate each new object version once.

The upload-triggered path of the systems framewarden replaces, by polling:
every ``interval_s`` the watcher lists the object versions under the prefix
and hands the latest version of each key it has not handled yet to a
handler.  What was handled is kept in a cursor file (written atomically
after each object), so a restarted watcher never hands the same version
twice; an object overwritten with new content is a new version and is
handled again.  On stores without versioning the ETag stands for the
version.  The server's handler submits a video job whose id is derived
from the version, so even a crash between the job and the cursor write
cannot make two jobs of one version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framewarden import fsutil
from framewarden.config import Settings
from framewarden.errors import ConfigError
from framewarden.media.s3 import s3_client, s3_error, s3_url

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    bucket: str
    key: str
    version: str  # VersionId, or the ETag where the store keeps no versions
    size: int

    @property
    def url(self) -> str:
        return s3_url(self.bucket, self.key)


Handler = Callable[[ObjectVersion], None]


def parse_watch_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise ConfigError(f"{url}: watch an s3://bucket/prefix location")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise ConfigError(f"{url}: no bucket name")
    return bucket, prefix


def default_cursor_path(settings: Settings, url: str) -> Path:
    return settings.data_dir / "watch" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"


class BucketWatcher:
    def __init__(
        self, url: str, settings: Settings, handler: Handler, cursor_path: Path | None = None
    ) -> None:
        self.url = url
        self.bucket, self.prefix = parse_watch_url(url)
        self.settings = settings
        self.handler = handler
        self.cursor_path = cursor_path or default_cursor_path(settings, url)
        self._seen: dict[str, str] = self._load()
        self._stop = threading.Event()

    def _load(self) -> dict[str, str]:
        try:
            body = json.loads(self.cursor_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"watch cursor {self.cursor_path} is unreadable: {exc}") from None
        seen = body.get("seen") if isinstance(body, dict) else None
        return {str(k): str(v) for k, v in (seen or {}).items()}

    def _save(self) -> None:
        body = {"url": self.url, "seen": self._seen}
        self.cursor_path.parent.mkdir(parents=True, exist_ok=True)
        fsutil.write_atomic(self.cursor_path, json.dumps(body, sort_keys=True).encode())

    def _latest(self) -> list[ObjectVersion]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._list()
        except (BotoCoreError, ClientError) as exc:
            raise s3_error(self.url, exc, self.settings.s3_timeout_s) from None

    def _list(self) -> list[ObjectVersion]:
        client = s3_client(self.settings)
        found: list[ObjectVersion] = []
        pages = client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for v in page.get("Versions", []):
                if not v.get("IsLatest", True) or v["Key"].endswith("/"):
                    continue
                version = str(v.get("VersionId") or "null")
                if version == "null":
                    version = "etag:" + str(v.get("ETag", "")).strip('"')
                found.append(ObjectVersion(self.bucket, v["Key"], version, int(v.get("Size", 0))))
        return sorted(found, key=lambda o: o.key)

    def poll_once(self) -> list[ObjectVersion]:
        """Hand every new object version to the handler; returns those handled."""
        handled = []
        for obj in self._latest():
            if self._seen.get(obj.key) == obj.version or obj.size == 0:
                continue
            try:
                self.handler(obj)
            except Exception as exc:  # one bad object must not stop the watch; it is retried next poll
                log.warning("watch %s: %s not handled: %s", self.url, obj.key, exc)
                continue
            self._seen[obj.key] = obj.version
            self._save()
            handled.append(obj)
        return handled

    def run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:
                log.warning("watch %s: listing failed: %s", self.url, exc)
            self._stop.wait(interval_s)

    def stop(self) -> None:
        self._stop.set()


def version_job_id(obj: ObjectVersion) -> str:
    return hashlib.sha256(f"watch\0{obj.url}\0{obj.version}".encode()).hexdigest()[:32]


def start_server_watchers(runtime: Any) -> Callable[[], None]:
    """The server's watchers: each new object version becomes a video job (idempotent id)."""
    from framewarden.jobs.spec import JobSpec

    def handler(obj: ObjectVersion) -> None:
        version = "" if obj.version.startswith("etag:") else obj.version
        runtime.jobs.submit(JobSpec(source=obj.url, tag="watch", version=version), job_id=version_job_id(obj))

    watchers = [BucketWatcher(url, runtime.settings, handler) for url in runtime.settings.watch_urls]
    for w in watchers:
        threading.Thread(
            target=w.run, args=(runtime.settings.watch_interval_s,), name="fw-watch", daemon=True
        ).start()

    def stop() -> None:
        for w in watchers:
            w.stop()

    return stop
