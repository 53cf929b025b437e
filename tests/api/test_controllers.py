"""GET /v1/controllers: the operator's controllers by name and type, never their configs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from framewarden.api.app import create_app
from framewarden.api.runtime import Runtime
from framewarden.config import Settings
from framewarden.store import keys as keys_repo
from tests.api.conftest import auth

SECRETS = ("tok-5ecret", "127.0.0.1:19", "/control", "kick.example", "/usr/bin/true", "--drop")
CONTROLLERS = {
    "edge": {"type": "nginx_rtmp", "control_url": "http://127.0.0.1:19/control"},
    "kick": {"type": "http", "url": "http://127.0.0.1:19/kick", "headers": {"X-Token": "Bearer tok-5ecret"}},
    "run": {"type": "command", "argv": ["/usr/bin/true", "--drop", "{channel}"]},
}


def _serve(data_dir: Path, controllers: dict[str, dict[str, object]]) -> tuple[Runtime, dict[str, str]]:
    settings = Settings(data_dir=data_dir, analyzers=["hashlist"], controllers=controllers)
    runtime = Runtime(settings).start()
    keys = {}
    with runtime.db.begin() as session:
        for role in ("admin", "moderator", "viewer", "ingest"):
            _, keys[role] = keys_repo.create_key(session, name=f"{role}-c", role=role)  # type: ignore[arg-type]
    return runtime, keys


@pytest.fixture
def served(isolated_settings: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    runtime, keys = _serve(isolated_settings, CONTROLLERS)
    try:
        with TestClient(create_app(runtime)) as client:
            yield client, keys
    finally:
        runtime.stop()


def test_names_and_types_for_viewer_and_up_never_urls_headers_or_argv(
    served: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = served
    expected = [
        {"name": "edge", "type": "nginx_rtmp"},
        {"name": "kick", "type": "http"},
        {"name": "run", "type": "command"},
    ]
    for role in ("viewer", "moderator", "admin"):
        r = client.get("/v1/controllers", headers=auth(keys[role]))
        assert r.status_code == 200, (role, r.text)
        assert r.json() == expected, role
        assert not [s for s in SECRETS if s in r.text], role


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("ingest", 403)])
def test_refused_without_a_reading_role(
    served: tuple[TestClient, dict[str, str]], role: str | None, status: int
) -> None:
    client, keys = served
    r = client.get("/v1/controllers", headers=auth(keys[role]) if role else {})
    assert r.status_code == status
    assert isinstance(r.json()["detail"], str)


def test_a_listed_name_is_what_a_channel_takes(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served
    name = client.get("/v1/controllers", headers=auth(keys["admin"])).json()[0]["name"]
    body = {"name": "cam", "source_url": "rtmp://127.0.0.1:1/live/cam", "controller": name, "start": False}
    created = client.post("/v1/channels", json=body, headers=auth(keys["admin"]))
    assert created.status_code == 201, created.text
    assert created.json()["controller"] == name


def test_no_controllers_in_settings_is_an_empty_list(isolated_settings: Path) -> None:
    runtime, keys = _serve(isolated_settings, {})
    try:
        with TestClient(create_app(runtime)) as client:
            assert client.get("/v1/controllers", headers=auth(keys["viewer"])).json() == []
    finally:
        runtime.stop()
