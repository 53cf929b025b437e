"""The API as docs/api.md says: {"detail": "<string>"} on every route, rules, results, /docs offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from framewarden.api.app import create_app
from framewarden.api.runtime import Runtime
from tests.api.conftest import auth


def _routes(runtime: Runtime) -> list[tuple[str, str]]:
    """Every documented (OpenAPI) route, path parameters filled with an unknown name."""
    paths = create_app(runtime).openapi()["paths"]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "nosuch", path))
        for path, ops in paths.items()
        for method in ops
    ]


def _is_documented_error(r: object) -> bool:
    body = r.json()  # type: ignore[attr-defined]
    return isinstance(body, dict) and set(body) == {"detail"} and isinstance(body["detail"], str)


def test_every_route_answers_errors_as_one_detail_string(
    client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    routes = _routes(runtime)
    assert len(routes) >= 20
    checked_422 = 0
    for method, path in routes:
        if path in {"/healthz"}:
            continue
        anonymous = client.request(method, path)
        assert anonymous.status_code == 401, (method, path)
        assert _is_documented_error(anonymous), (method, path, anonymous.text)
        # With a key: a body and query that fail validation, or an unknown record.
        r = client.request(
            method, path, params={"limit": "0", "since": "never"}, json={"bogus": 1},
            headers=auth(keys["admin"]),
        )  # fmt: skip
        if r.status_code >= 400:
            assert _is_documented_error(r), (method, path, r.status_code, r.text)
        checked_422 += r.status_code == 422
    assert checked_422 >= 5


def test_validation_error_names_the_fields(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/v1/keys", json={"role": "viewer"}, headers=auth(keys["admin"]))
    assert r.status_code == 422
    assert r.json() == {"detail": "body.name: Field required"}


def test_results_of_an_unknown_channel_are_404(client: TestClient, keys: dict[str, str]) -> None:
    r = client.get("/v1/channels/nosuch/results", headers=auth(keys["viewer"]))
    assert r.status_code == 404
    assert r.json() == {"detail": "channel nosuch: not found"}


def test_rules_list_shows_the_built_in_default(client: TestClient, keys: dict[str, str]) -> None:
    viewer = auth(keys["viewer"])
    listed = client.get("/v1/rules", headers=viewer).json()
    assert [(r["id"], r["built_in"]) for r in listed] == [("default", True)]
    one = client.get("/v1/rules/default", headers=viewer)
    assert one.status_code == 200 and one.json() == listed[0]
    assert one.json()["rule"]["labels"]  # the thresholds that apply


def test_rule_naming_an_unknown_notification_target_is_refused(
    client: TestClient, keys: dict[str, str]
) -> None:
    admin = auth(keys["admin"])
    rule = {"id": "r1", "channel_pattern": "^x", "labels": {"Violence": 60}, "notify": ["nosuch"]}
    created = client.post("/v1/rules", json=rule, headers=admin)
    assert created.status_code == 422
    assert "unknown notification target 'nosuch'" in created.json()["detail"]
    assert client.get("/v1/rules/r1", headers=admin).status_code == 404  # nothing saved
    imported = client.post(
        "/v1/rules/import",
        content="- id: r2\n  channel_pattern: x\n  labels: {Violence: 60}\n  notify: [nosuch]\n",
        headers={**admin, "Content-Type": "application/yaml"},
    )
    assert imported.status_code == 422


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_are_served_without_a_cdn(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert scripts and all(s.startswith("/docs/static/") for s in scripts), scripts
    for asset in scripts:
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 1000, asset


def test_decompression_bomb_is_413_as_documented(client: TestClient, keys: dict[str, str]) -> None:
    from tests.media.test_image import _header_only_png

    r = client.post(
        "/v1/images:moderate", content=_header_only_png(20_000, 20_000),
        headers={**auth(keys["ingest"]), "Content-Type": "image/png"},
    )  # fmt: skip
    assert r.status_code == 413, r.text
    assert _is_documented_error(r) and "decompression bomb" in r.json()["detail"]
    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    assert re.search(r"\| 413 \|[^\n]*decompression bomb", doc)
