"""GET /v1/stats/false-positives: dismissed alerts per label and analyzer, for viewers and up."""

from __future__ import annotations

from fastapi.testclient import TestClient

from framewarden.api.runtime import Runtime
from framewarden.store import alerts as alerts_repo
from tests.api.conftest import auth

NIPPLE = {"label": "Exposed Female Nipple", "confidence": 62.0}
WEAPONS = {"label": "Weapons", "confidence": 70.0}


def _alert(runtime: Runtime, *violations: dict[str, object]) -> int:
    with runtime.db.begin() as session:
        return alerts_repo.create_alert(session, channel="cam", severity=1, violations=list(violations)).id


def test_counts_dismissed_alerts_per_label_and_analyzer(
    runtime: Runtime, client: TestClient, keys: dict[str, str]
) -> None:
    empty = client.get("/v1/stats/false-positives", headers=auth(keys["viewer"]))
    assert empty.status_code == 200
    assert empty.json() == {"dismissed_alerts": 0, "by_label": [], "by_analyzer": {}}

    dismissed = [_alert(runtime, NIPPLE), _alert(runtime, NIPPLE, WEAPONS)]
    confirmed = _alert(runtime, NIPPLE)
    _alert(runtime, NIPPLE)  # still open: not counted
    moderator = auth(keys["moderator"])
    for alert_id in dismissed:
        assert client.post(f"/v1/alerts/{alert_id}/dismiss", headers=moderator).status_code == 200
    assert client.post(f"/v1/alerts/{confirmed}/confirm", headers=moderator).status_code == 200

    body = client.get("/v1/stats/false-positives", headers=auth(keys["viewer"])).json()
    assert body["dismissed_alerts"] == 2
    assert body["by_label"] == [
        {"label": "Exposed Female Nipple", "dismissed": 2, "analyzers": ["nudenet"]},
        {"label": "Weapons", "dismissed": 1, "analyzers": []},  # no running analyzer emits it
    ]
    assert body["by_analyzer"] == {"nudenet": 2, "unknown": 1}


def test_needs_a_viewer_key(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/v1/stats/false-positives").status_code == 401
    assert client.get("/v1/stats/false-positives", headers=auth(keys["ingest"])).status_code == 403
    for role in ("viewer", "moderator", "admin"):
        assert client.get("/v1/stats/false-positives", headers=auth(keys[role])).status_code == 200
