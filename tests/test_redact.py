"""Redaction: credentials never leave in URLs, reasons or log records."""

from __future__ import annotations

import logging

import pytest

from framewarden.redact import install_log_redaction, redact_text, redact_url


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("", ""),
        ("rtmp://127.0.0.1/live/cam", "rtmp://127.0.0.1/live/cam"),
        ("rtsp://user:pass@10.0.0.5:554/s1", "rtsp://***@10.0.0.5:554/s1"),
        ("rtsp://token@cam/s1", "rtsp://***@cam/s1"),
        ("rtmp://h/live/cam?token=abc&fps=5", "rtmp://h/live/cam?token=***&fps=5"),
        ("/v1/events?key=fw_secret&kinds=alert", "/v1/events?key=***&kinds=alert"),
        ("https://s3/b/k?X-Amz-Signature=abc123", "https://s3/b/k?X-Amz-Signature=***"),
        ("mailto-like user@example.com stays", "mailto-like user@example.com stays"),
    ],
)
def test_redact_url(raw: str, shown: str) -> None:
    assert redact_url(raw) == shown


def test_redact_text_finds_urls_inside_messages() -> None:
    message = "cam: Connection refused opening rtsp://admin:hunter2@10.0.0.5/s1 (retry rtsp://a:b@h/x)"
    redacted = redact_text(message)
    assert "hunter2" not in redacted and "a:b" not in redacted
    assert redacted.count("***@") == 2


def test_log_records_are_redacted_at_creation(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    log = logging.getLogger("framewarden.test_redact")
    with caplog.at_level(logging.INFO, logger="framewarden.test_redact"):
        log.info("opening %s", "rtsp://admin:hunter2@10.0.0.5/s1")
        log.warning("failed: %s", ValueError("GET http://h/stop?token=s3cr3t failed"))
        # uvicorn's access-log shape: the path (with its query) is one argument
        log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/v1/events?key=fw_abc", "1.1", 101)
        log.info("calling http://h/x?token=%s", "s3cr3t")  # a secret split across format and argument
        try:
            raise ConnectionError("cannot open rtsp://admin:hunter2@10.0.0.5/s1")
        except ConnectionError:
            log.exception("worker failed")
    text = caplog.text
    assert "ConnectionError: cannot open rtsp://***@10.0.0.5/s1" in text  # the traceback too
    assert "hunter2" not in text and "s3cr3t" not in text and "fw_abc" not in text
    assert "rtsp://***@10.0.0.5/s1" in text and "token=***" in text and "key=***" in text
    # Arguments keep their shape (uvicorn's access formatter unpacks them).
    assert all(isinstance(r.args, tuple) for r in caplog.records)
