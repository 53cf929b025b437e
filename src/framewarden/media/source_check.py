"""Which channel sources the operator allows: scheme, local files, the demo clip, the network.

Checked when a channel is created and again for every channel restored at
start-up (settings may have changed since it was stored):

- the URL scheme must be in ``allowed_source_schemes``;
- local files (``file:`` or a path) only with ``allow_file_sources``;
- ``demo:`` (allowed by ``serve --demo``) plays the bundled clip and nothing
  else: ``demo:/any/path`` would read any file the server can;
- a network source's host must pass the operator's network policy
  (:mod:`framewarden.netpolicy`), so a client cannot aim the server at
  internal services or cloud metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from framewarden.errors import ConfigError
from framewarden.netpolicy import NetworkPolicy
from framewarden.redact import redact_url

DEMO_SCHEME = "demo:"
NO_NETWORK_SCHEMES = frozenset({"s3"})  # s3://bucket/key: the endpoint is the operator's setting


def check_source(source: str, settings: Any, *, policy: NetworkPolicy | None = None) -> str:
    """``source`` when the operator's settings allow it; else a :class:`ConfigError` saying why."""
    shown = redact_url(source)
    scheme = urlsplit(source).scheme.lower()
    if scheme in {"", "file"} or (len(scheme) == 1 and Path(source).is_absolute()):
        if not settings.allow_file_sources:
            raise ConfigError(f"{shown}: local files are not allowed as channel sources")
        return source
    if scheme not in settings.allowed_source_schemes:
        allowed = ", ".join(settings.allowed_source_schemes)
        raise ConfigError(f"{shown}: scheme {scheme!r} is not allowed (allowed: {allowed})")
    if scheme == "demo":
        if source != DEMO_SCHEME:
            raise ConfigError(f"{shown}: demo: plays only the bundled demo clip (use exactly 'demo:')")
        return source
    if scheme in NO_NETWORK_SCHEMES:
        return source
    (policy or NetworkPolicy.from_settings(settings)).check_url(source, what="source")
    return source
