"""The demo inbox's receivers that do not come over HTTP: an SMTP sink (email setups send
through EMAIL_URL to it) and a collector of what SES setups sent to moto's SES.

Both record through notifier.demo.inbox.inbox_record, so they run in a process where Django
is set up (the launcher's).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller

from notifier.demo.inbox import inbox_record

KEPT_HEADERS = (
    "X-Notifier-Delivery",
    "X-Notifier-Test",
    "X-CodeDeploy-Deployment",
    "X-CodeDeploy-Event",
    "Message-ID",
    "References",
)
MAX_EMAIL_BYTES = 2 * 1024 * 1024


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return ""
    return str(part.get_content())


def email_record(*, raw: bytes, recipients: list[str], channel: str = "email") -> None:
    """Parse one email and record its subject, sender, recipients, text and HTML parts."""
    message = cast(
        EmailMessage, email.message_from_bytes(raw[:MAX_EMAIL_BYTES], policy=email.policy.default)
    )
    headers = {name: str(message[name]) for name in KEPT_HEADERS if message[name] is not None}
    subject = str(message["Subject"] or "")
    payload = {
        "subject": subject,
        "from": str(message["From"] or ""),
        "to": recipients or [str(message["To"] or "")],
        "text": _part(message, "plain"),
        "html": _part(message, "html"),
        "headers": headers,
    }
    inbox_record(
        channel=channel,
        title=subject or "(no subject)",
        payload=payload,
        headers=headers,
        target=", ".join(recipients)[:300],
    )


class _Handler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        recipients = [str(r) for r in envelope.rcpt_tos]
        # The ORM is synchronous: record on a worker thread, off the SMTP server's loop.
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: email_record(raw=raw, recipients=recipients)
        )
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class SmtpInbox:
    """An SMTP server on loopback whose every message lands in the demo inbox as "email".

    `SmtpInbox()` picks a free port (`port`); `start()`, `stop()`; EMAIL_URL is
    smtp://127.0.0.1:<port>.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.controller = Controller(_Handler(), hostname=host, port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> SmtpInbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def _ses_recipients(destinations: Any) -> list[str]:
    if isinstance(destinations, dict):
        return [str(a) for key in ("ToAddresses", "CcAddresses") for a in destinations.get(key, [])]
    return [str(a) for a in destinations or []]


def collect_ses(account: str, region: str, seen: set) -> int:
    """Copy the messages moto's SES (in the same process) sent in this account and region,
    and not in `seen` (their ids, updated), into the inbox as "ses". Returns how many."""
    from moto.ses.models import ses_backends  # moto is the demo's optional dependency

    backend = ses_backends[account][region]
    copied = 0
    for message in list(backend.sent_messages):
        ids = getattr(message, "ids", None) or [getattr(message, "id", "")]
        key = ",".join(str(i) for i in ids)
        if key in seen:
            continue
        seen.add(key)
        recipients = _ses_recipients(getattr(message, "destinations", None))
        raw = getattr(message, "raw_data", None)
        if raw is not None:
            email_record(raw=str(raw).encode(), recipients=recipients, channel="ses")
        else:
            _ses_simple_record(message, recipients)
        copied += 1
    return copied


def _ses_simple_record(message: Any, recipients: list[str]) -> None:
    body = str(getattr(message, "body", "") or getattr(message, "template_data", "") or "")
    is_html = body.lstrip().startswith("<")
    subject = str(getattr(message, "subject", "") or getattr(message, "template", "") or "")
    payload = {
        "subject": subject,
        "from": str(getattr(message, "source", "")),
        "to": recipients,
        "html": body if is_html else "",
        "text": "" if is_html else body,
        "headers": {"SES-Message-ID": str(getattr(message, "id", ""))},
    }
    inbox_record(
        channel="ses",
        title=subject or "(no subject)",
        payload=payload,
        headers=payload["headers"],
        target=", ".join(recipients)[:300],
    )
