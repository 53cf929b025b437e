"""E-mail through a real aiosmtpd server: plain, AUTH, STARTTLS, implicit TLS, server down."""

from __future__ import annotations

import datetime as dt
import email
import json
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from framewarden.actions.notifiers import Dispatcher, EmailNotifier, EmailTarget, Message, NotificationError
from framewarden.actions.notifiers.dispatcher import RetryPolicy
from framewarden.config import Settings

MESSAGE = Message(
    kind="alert",
    channel="cam",
    alert_id=5,
    summary="Explicit (91%) on channel cam",
    rule_id="default",
    action="auto_stop",
    label="Exposed Female Nipple",
)


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"bot", b"pw")
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made at test time."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@contextmanager
def smtp_server(**kwargs: Any) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def test_plain_smtp_with_settings_defaults() -> None:
    with smtp_server() as (inbox, port):
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, smtp_from="fw@test")
        EmailNotifier(EmailTarget(name="mods", to=["a@test", "b@test"]), settings).send(MESSAGE)
    [(sender, rcpts, raw)] = inbox.mails
    assert (sender, rcpts) == ("fw@test", ["a@test", "b@test"])
    mail = email.message_from_bytes(raw)
    assert mail["Subject"] == "[framewarden] Explicit (91%) on channel cam"
    parts = {p.get_content_type(): p for p in mail.walk() if not p.is_multipart()}
    assert "Channel: cam" in parts["text/plain"].get_payload(decode=True).decode()
    body = json.loads(parts["application/json"].get_payload(decode=True))
    assert (body["alert_id"], body["action"]) == (5, "auto_stop")


def test_starttls_with_auth(cert: tuple[Path, Path]) -> None:
    with smtp_server(
        tls_context=server_tls(cert), require_starttls=True, authenticator=check_login, auth_require_tls=True
    ) as (inbox, port):
        target = EmailTarget(
            name="mods",
            to=["a@test"],
            host="127.0.0.1",
            port=port,
            security="starttls",
            username="bot",
            password="pw",
            ca_file=str(cert[0]),
        )
        EmailNotifier(target, Settings()).send(MESSAGE)
    assert len(inbox.mails) == 1


def test_wrong_password_is_a_notification_error() -> None:
    with smtp_server(authenticator=check_login, auth_require_tls=False) as (inbox, port):
        target = EmailTarget(
            name="mods",
            to=["a@test"],
            host="127.0.0.1",
            port=port,
            security="plain",
            username="bot",
            password="nope",
            timeout_s=3,
        )
        with pytest.raises(NotificationError, match=r"target 'mods': SMTP 127\.0\.0\.1:.*SMTPAuthentication"):
            EmailNotifier(target, Settings()).send(MESSAGE)
    assert inbox.mails == []


def test_untrusted_certificate_is_refused(cert: tuple[Path, Path]) -> None:
    with smtp_server(tls_context=server_tls(cert)) as (inbox, port):
        target = EmailTarget(name="mods", to=["a@test"], host="127.0.0.1", port=port, security="starttls")
        with pytest.raises(NotificationError, match="CERTIFICATE_VERIFY_FAILED"):
            EmailNotifier(target, Settings()).send(MESSAGE)
    assert inbox.mails == []


def test_implicit_tls(cert: tuple[Path, Path]) -> None:
    # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; this socket is TLS from the start.
    with smtp_server(ssl_context=server_tls(cert), authenticator=check_login, auth_require_tls=False) as (
        inbox,
        port,
    ):
        target = EmailTarget(
            name="mods",
            to=["a@test"],
            host="127.0.0.1",
            port=port,
            security="ssl",
            username="bot",
            password="pw",
            ca_file=str(cert[0]),
        )
        EmailNotifier(target, Settings()).send(MESSAGE)
    assert len(inbox.mails) == 1


def test_no_host_configured() -> None:
    with pytest.raises(NotificationError, match="no SMTP host"):
        EmailNotifier(EmailTarget(name="mods", to=["a@test"]), Settings()).send(MESSAGE)


def test_server_down_is_recorded_by_the_dispatcher() -> None:
    port = free_port()  # nothing listens here
    target = EmailTarget(
        name="mods", to=["a@test"], host="127.0.0.1", port=port, security="plain", timeout_s=2
    )
    records: list[tuple] = []
    dispatcher = Dispatcher(
        {"mods": EmailNotifier(target, Settings())},
        recorder=lambda *r: records.append(r),
        policy=RetryPolicy(max_attempts=2, base_delay_s=0.01, jitter=0),
    )
    dispatcher.submit(["mods"], MESSAGE)
    assert dispatcher.close(timeout=10)
    assert [(r[0], r[1], r[2], r[3]) for r in records] == [("mods", 5, 1, "retry"), ("mods", 5, 2, "failed")]
    assert "Connection refused" in records[-1][4]
