"""A violation held on screen: the worker's sinks send one webhook per alert, not one per frame.

A real runtime (its AlertService on SQLite), the store-backed sinks as the
worker calls them (raise_alert, then notify, for each flagged frame), a real
dispatcher and a real HTTP receiver.
"""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient

from framewarden.actions.notifiers import Dispatcher, RetryPolicy, WebhookNotifier, WebhookTarget
from framewarden.api.runtime import Runtime
from framewarden.pipeline.context import FrameRecord
from framewarden.pipeline.sinks import DispatchNotifier, ServiceAlertSink
from framewarden.rules.verdict import Action, Verdict, Violation
from tests.actions.webhook_server import webhook_receiver
from tests.api.conftest import auth


def flagged_frame(channel: str, seq: int, label: str = "Weapons") -> tuple[Verdict, FrameRecord]:
    v = Verdict(
        channel=channel,
        rule_id="default",
        rule_version=1,
        frame_seq=seq,
        pts_ms=seq * 1000.0,
        violations=(Violation(label, 90.0, "default", 60.0, label, Action.ALERT),),
        actions=frozenset({Action.ALERT}),
        notify=("ops",),
    )
    now = time.time()
    record = FrameRecord(
        channel=channel,
        seq=seq,
        pts_ms=seq * 1000.0,
        captured_at=now,
        decided_at=now,
        labels={label: 90.0},
        verdict=v,
    )
    return v, record


def test_a_held_violation_notifies_once_until_reviewed(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    with webhook_receiver() as rx:
        dispatcher = Dispatcher(
            {"ops": WebhookNotifier(WebhookTarget(name="ops", url=rx.url))},
            policy=RetryPolicy(max_attempts=1),
        )
        sink = ServiceAlertSink(runtime.alerts)
        notifier = DispatchNotifier(dispatcher, sink)

        def frame(seq: int, channel: str = "cam") -> None:
            v, record = flagged_frame(channel, seq)
            sink.raise_alert(v, record)
            notifier.notify(v, record)

        for seq in range(5):  # five frames of one incident (the default window is 60 s)
            frame(seq)
        frame(5, channel="cam-2")  # another channel is another incident
        alerts = client.get("/v1/alerts", params={"channel": "cam"}, headers=auth(keys["viewer"])).json()
        (alert,) = alerts["items"]
        assert (alert["occurrences"], alert["frame_seq"]) == (5, 0)
        assert alert["last_seen_at"] >= alert["created_at"]

        reviewed = client.post(f"/v1/alerts/{alert['id']}/dismiss", json={}, headers=auth(keys["moderator"]))
        assert reviewed.status_code == 200
        frame(6)  # after review, the same violation is a new alert: people hear of it again

        # A verdict whose alert was never recorded (the store failed) is still sent, without an id.
        lost, lost_record = flagged_frame("cam-3", 7)
        notifier.notify(lost, lost_record)
        assert dispatcher.close(timeout=10)

    bodies = [json.loads(r.body) for r in rx.requests]
    sent = sorted((b["channel"], b["payload"]["frame_seq"], b["alert_id"]) for b in bodies)
    after_review = client.get("/v1/alerts", params={"channel": "cam"}, headers=auth(keys["viewer"])).json()
    newest = after_review["items"][0]
    assert newest["id"] != alert["id"] and newest["occurrences"] == 1
    other = client.get("/v1/alerts", params={"channel": "cam-2"}, headers=auth(keys["viewer"])).json()
    assert sent == [
        ("cam", 0, alert["id"]),
        ("cam", 6, newest["id"]),
        ("cam-2", 5, other["items"][0]["id"]),
        ("cam-3", 7, None),
    ]
