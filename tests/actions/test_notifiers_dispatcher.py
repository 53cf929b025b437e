"""The dispatcher: retries with backoff into a delivery log, failures on the bus, never blocking."""

from __future__ import annotations

import random
import threading
import time

import pytest

from framewarden.actions.notifiers import (
    DeliveryRecord,
    Dispatcher,
    Message,
    NotificationError,
    NullNotifier,
    RetryPolicy,
    WebhookNotifier,
    WebhookTarget,
)
from framewarden.events import Event, EventBus
from tests.actions.webhook_server import webhook_receiver

FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, jitter=0.2)


def message(alert_id: int = 1) -> Message:
    return Message(kind="alert", channel="cam", alert_id=alert_id, summary="s")


class Log:
    """A recorder with the store's signature: (target, alert_id, attempt, status, error, at)."""

    def __init__(self) -> None:
        self.records: list[DeliveryRecord] = []

    def __call__(self, target, alert_id, attempt, status, error, at) -> None:  # type: ignore[no-untyped-def]
        self.records.append(DeliveryRecord(target, alert_id, attempt, status, error, at))

    def rows(self) -> list[tuple]:
        return [(r.target, r.alert_id, r.attempt, r.status) for r in self.records]


def test_fails_twice_then_succeeds_and_the_log_shows_each_attempt() -> None:
    log = Log()
    with webhook_receiver() as rx:
        rx.statuses.extend([500, 502])
        notifier = WebhookNotifier(WebhookTarget(name="ops", url=rx.url, secret="k"))
        dispatcher = Dispatcher({"ops": notifier}, recorder=log, policy=FAST)
        dispatcher.submit(["ops"], message(9))
        assert dispatcher.close(timeout=10)
    assert log.rows() == [("ops", 9, 1, "retry"), ("ops", 9, 2, "retry"), ("ops", 9, 3, "ok")]
    assert "HTTP 500" in (log.records[0].error or "") and log.records[2].error is None
    assert len(rx.requests) == 3
    assert all(r.at > 0 for r in log.records)


def test_gives_up_after_max_attempts_and_publishes_failures() -> None:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append, kinds={"notification"})
    log = Log()
    with webhook_receiver() as rx:
        rx.statuses.extend([500] * 10)
        dispatcher = Dispatcher(
            {"ops": WebhookNotifier(WebhookTarget(name="ops", url=rx.url))},
            recorder=log,
            bus=bus,
            policy=FAST,
        )
        dispatcher.submit(["ops"], message())
        assert dispatcher.close(timeout=10)
    assert [r.status for r in log.records] == ["retry", "retry", "retry", "failed"]
    assert [e.payload["status"] for e in events] == ["retry", "retry", "retry", "failed"]
    assert events[-1].channel == "cam" and events[-1].payload["target"] == "ops"


def test_unknown_target_is_recorded_as_failed() -> None:
    log = Log()
    dispatcher = Dispatcher({}, recorder=log, policy=FAST)
    dispatcher.submit(["ghost"], message())
    assert dispatcher.close(timeout=5)
    assert log.rows() == [("ghost", 1, 1, "failed")]
    assert "unknown notification target 'ghost'" in (log.records[0].error or "")


class Blocking:
    """A target that hangs until released."""

    name = "slow"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent = 0

    def send(self, msg: Message) -> None:
        self.release.wait(10)
        self.sent += 1


def test_slow_target_blocks_neither_caller_nor_other_targets() -> None:
    slow = Blocking()
    log = Log()
    dispatcher = Dispatcher({"slow": slow, "null": NullNotifier()}, recorder=log, policy=FAST, workers=2)
    start = time.monotonic()
    for i in range(50):
        dispatcher.submit(["slow", "null"], message(i))
    assert time.monotonic() - start < 2  # submit only schedules
    deadline = time.monotonic() + 5
    while (
        sum(r.target == "null" and r.status == "ok" for r in log.records) < 50 and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    assert sum(r.target == "null" and r.status == "ok" for r in log.records) == 50
    assert slow.sent == 0
    slow.release.set()
    assert dispatcher.close(timeout=10)
    assert slow.sent == 50


def test_close_timeout_drops_what_is_left_and_says_so() -> None:
    slow = Blocking()
    log = Log()
    dispatcher = Dispatcher({"slow": slow}, recorder=log, policy=FAST, workers=1)
    dispatcher.submit(["slow"], message(1))
    dispatcher.submit(["slow"], message(2))
    time.sleep(0.05)
    assert dispatcher.close(timeout=0.2) is False
    slow.release.set()
    assert ("slow", 2, 1, "dropped") in log.rows()
    dispatcher.submit(["slow"], message(3))  # after close: dropped, not queued
    assert ("slow", 3, 1, "dropped") in log.rows()


def test_broken_recorder_does_not_stop_delivery() -> None:
    sent: list[Message] = []

    class Collect:
        name = "c"

        def send(self, msg: Message) -> None:
            sent.append(msg)

    def broken(*record: object) -> None:
        raise RuntimeError("db down")

    dispatcher = Dispatcher({"c": Collect()}, recorder=broken, policy=FAST)
    dispatcher.submit(["c", "c"], message())
    assert dispatcher.close(timeout=5)
    assert len(sent) == 2


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.8, 1.2), (2, 1.6, 2.4), (3, 3.2, 4.8), (10, 240.0, 360.0), (30, 240.0, 360.0)],
)
def test_backoff_is_exponential_capped_and_jittered(attempt: int, low: float, high: float) -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=300.0, jitter=0.2)
    rng = random.Random(attempt)
    delays = {policy.delay(attempt, rng) for _ in range(20)}
    assert all(low <= d <= high for d in delays)
    assert len(delays) > 1  # jitter spreads retries


def test_notification_error_is_one_line() -> None:
    err = NotificationError("ops", "HTTP 500 from the receiver")
    assert str(err) == "notification target 'ops': HTTP 500 from the receiver"


class _LeakyNotifier:
    """Fails with a reason quoting a URL that holds a token (as an HTTP library's error may)."""

    name = "leaky"

    def send(self, message: Message) -> None:
        raise NotificationError(self.name, "POST https://hooks.example/x?token=s3cr3t refused")


def test_delivery_errors_are_masked_in_the_log_and_on_the_bus() -> None:
    bus, log = EventBus(), Log()
    events: list[Event] = []
    bus.subscribe(events.append)
    one_try = RetryPolicy(max_attempts=1, base_delay_s=0.01, max_delay_s=0.01, jitter=0.0)
    dispatcher = Dispatcher({"leaky": _LeakyNotifier()}, recorder=log, bus=bus, policy=one_try)
    dispatcher.submit(["leaky"], message())
    assert dispatcher.close(timeout=10)
    assert log.records and "token=***" in (log.records[0].error or "")
    assert "s3cr3t" not in str([r.error for r in log.records]) and "s3cr3t" not in str(events)
