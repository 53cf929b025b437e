"""Webhooks against a real HTTP server: signatures, replay window, templates, timeouts."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import ValidationError

from framewarden.actions.notifiers import (
    Message,
    NotificationError,
    WebhookNotifier,
    WebhookTarget,
    parse_target,
    verify_signature,
)
from framewarden.actions.notifiers.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, render_url, sign
from framewarden.rules.evaluate import ChannelRuleState, evaluate
from framewarden.rules.models import Rule
from tests.actions.webhook_server import webhook_receiver

MESSAGE = Message(
    kind="alert",
    channel="cam 1/&x",
    alert_id=42,
    summary="Explicit on cam",
    rule_id="r",
    action="alert",
    label="Explicit",
)


def test_signed_post_verifies_with_the_right_secret_only() -> None:
    with webhook_receiver() as rx:
        target = WebhookTarget(name="ops", url=rx.url + "/hook", secret="s3cret")
        WebhookNotifier(target).send(MESSAGE)
    [req] = rx.requests
    assert json.loads(req.body)["alert_id"] == 42
    assert req.headers["Content-Type"] == "application/json"
    assert verify_signature("s3cret", req.body, req.headers)
    assert not verify_signature("wrong", req.body, req.headers)
    assert not verify_signature("s3cret", req.body + b" ", req.headers)  # body tampered


def test_replayed_old_request_is_rejected() -> None:
    with webhook_receiver() as rx:
        WebhookNotifier(WebhookTarget(name="ops", url=rx.url, secret="k")).send(MESSAGE)
    [req] = rx.requests
    sent = int(req.headers[TIMESTAMP_HEADER])
    assert verify_signature("k", req.body, req.headers, tolerance_s=300, now=sent + 299)
    assert not verify_signature("k", req.body, req.headers, tolerance_s=300, now=sent + 301)
    assert not verify_signature("k", req.body, req.headers, tolerance_s=300, now=sent - 301)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {TIMESTAMP_HEADER: "soon", SIGNATURE_HEADER: "sha256=00"},
        {TIMESTAMP_HEADER: str(int(time.time()))},
    ],
)
def test_malformed_signature_headers_fail(headers: dict[str, str]) -> None:
    assert not verify_signature("k", b"{}", headers)


def test_headers_are_case_insensitive_for_receivers() -> None:
    ts = int(time.time())
    headers = {TIMESTAMP_HEADER.lower(): str(ts), SIGNATURE_HEADER.upper(): sign("k", b"{}", ts)}
    assert verify_signature("k", b"{}", headers)


def test_unsigned_target_sends_no_signature() -> None:
    with webhook_receiver() as rx:
        WebhookNotifier(WebhookTarget(name="ops", url=rx.url)).send(MESSAGE)
    assert SIGNATURE_HEADER not in rx.requests[0].headers


def test_url_template_values_are_url_encoded() -> None:
    with webhook_receiver() as rx:
        url = rx.url + "/hook/{channel}?alert={alert_id}&label={label}"
        WebhookNotifier(WebhookTarget(name="ops", url=url)).send(MESSAGE)
    assert rx.requests[0].path == "/hook/cam%201%2F%26x?alert=42&label=Explicit"


def test_render_url_of_message_without_alert_id() -> None:
    msg = Message(kind="test", channel="c", alert_id=None, summary="hi")
    assert render_url("http://h/{kind}/{alert_id}", msg) == "http://h/test/"


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_error_status_raises_naming_the_target(status: int) -> None:
    with webhook_receiver() as rx:
        rx.statuses.append(status)
        with pytest.raises(NotificationError, match=f"target 'ops': HTTP {status}"):
            WebhookNotifier(WebhookTarget(name="ops", url=rx.url)).send(MESSAGE)


def test_slow_receiver_times_out() -> None:
    with webhook_receiver() as rx:
        rx.delay_s = 1.0
        start = time.monotonic()
        with pytest.raises(NotificationError, match="timed out"):
            WebhookNotifier(WebhookTarget(name="ops", url=rx.url, timeout_s=0.2)).send(MESSAGE)
        assert time.monotonic() - start < 0.9


def test_unreachable_receiver_raises() -> None:
    with webhook_receiver() as rx:
        url = rx.url
    with pytest.raises(NotificationError, match="request failed"):
        WebhookNotifier(WebhookTarget(name="ops", url=url, timeout_s=1)).send(MESSAGE)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "webhook", "name": "x", "url": "ftp://h"}, "must start with http"),
        ({"type": "webhook", "name": "x", "url": "http://h/{secret}"}, "unknown fields ['secret']"),
        ({"type": "webhook", "name": "x", "url": "http://h/{"}, "bad template"),
        ({"type": "webhook", "name": "Bad Name", "url": "http://h"}, "must match"),
        ({"type": "pager", "name": "x"}, "does not match any of the expected tags"),
        ({"type": "email", "name": "x", "to": ["a@b", "c@d\nBcc: e@f"]}, "not a plain e-mail address"),
        ({"type": "email", "name": "x", "to": []}, "at least 1 item"),
    ],
)
def test_invalid_targets_are_refused(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_target(data)


@pytest.mark.parametrize(
    "data",
    [
        {
            "type": "webhook",
            "name": "ops",
            "url": "https://h/{channel}",
            "secret": "k",
            "headers": {"X-A": "1"},
        },
        {"type": "email", "name": "mail", "to": ["a@example.org"], "security": "ssl", "port": 465},
        {"type": "null", "name": "none"},
    ],
)
def test_targets_round_trip_through_json(data: dict) -> None:
    target = parse_target(data)
    assert parse_target(target.model_dump(mode="json")) == target
    assert "secret='k'" not in repr(target)


def test_message_from_verdict_carries_the_peak_violation() -> None:
    rule = Rule(id="r", channel="c", labels={"Gambling": 50}, notify=["ops"])
    verdict, _ = evaluate(rule, {"Gambling": 77.0}, ChannelRuleState(), channel="c", frame_seq=3, pts_ms=9.0)
    msg = Message.from_verdict(verdict, alert_id=7)
    assert (msg.channel, msg.alert_id, msg.label, msg.action, msg.rule_id) == (
        "c",
        7,
        "Gambling",
        "alert",
        "r",
    )
    assert "Gambling (77%)" in msg.summary
    assert msg.body()["payload"]["violations"][0]["confidence"] == 77.0
