"""E-mail alerts over SMTP: STARTTLS, implicit TLS (SSL) or plain, optional AUTH.

Connection settings come from ``Settings.smtp_*`` unless the target
overrides them, so one SMTP relay serves every target by default.  The mail
is plain text for people plus the JSON body as an attachment for filters.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from framewarden.actions.notifiers.base import EmailTarget, Message, NotificationError
from framewarden.config import Settings, get_settings


@dataclass(frozen=True, slots=True)
class SmtpParams:
    host: str
    port: int
    security: str  # "starttls" | "ssl" | "plain"
    username: str
    password: str
    sender: str


def smtp_params(target: EmailTarget, settings: Settings) -> SmtpParams:
    """The target's overrides on top of the settings."""
    return SmtpParams(
        host=target.host if target.host is not None else settings.smtp_host,
        port=target.port if target.port is not None else settings.smtp_port,
        security=target.security or ("starttls" if settings.smtp_starttls else "plain"),
        username=target.username if target.username is not None else settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if target.password is None else target.password,
        sender=target.sender or settings.smtp_from,
    )


def compose(target: EmailTarget, message: Message, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"{target.subject_prefix} {message.summary}".strip()
    mail["From"] = sender
    mail["To"] = ", ".join(target.to)
    lines = [
        message.summary,
        "",
        f"Channel: {message.channel}",
        f"Alert:   {message.alert_id}",
        f"Rule:    {message.rule_id}",
        f"Action:  {message.action}",
        f"Label:   {message.label}",
    ]
    mail.set_content("\n".join(lines) + "\n")
    mail.add_attachment(
        json.dumps(message.body(), indent=2, sort_keys=True, default=str).encode(),
        maintype="application",
        subtype="json",
        filename="alert.json",
    )
    return mail


class EmailNotifier:
    def __init__(self, target: EmailTarget, settings: Settings | None = None) -> None:
        self.name = target.name
        self.target = target
        self.params = smtp_params(target, settings or get_settings())

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.target.ca_file)

    def send(self, message: Message) -> None:
        p = self.params
        if not p.host:
            raise NotificationError(self.name, "no SMTP host (set smtp_host or the target's host)")
        mail = compose(self.target, message, p.sender)
        timeout = self.target.timeout_s
        try:
            if p.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(p.host, p.port, timeout=timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(p.host, p.port, timeout=timeout)
            with smtp:
                if p.security == "starttls":
                    smtp.starttls(context=self._tls())
                if p.username:
                    smtp.login(p.username, p.password)
                smtp.send_message(mail)
        except smtplib.SMTPException as exc:
            reason = f"SMTP {p.host}:{p.port}: {type(exc).__name__}: {exc}"
            raise NotificationError(self.name, reason) from None
        except (OSError, ssl.SSLError) as exc:
            raise NotificationError(self.name, f"SMTP {p.host}:{p.port}: {exc}") from None
