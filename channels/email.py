"""Email through SMTP (EMAIL_URL): a multipart message, plain text and HTML.

The SMTP server comes from EMAIL_URL (smtp://user:password@host:587?tls=true, or smtps://
for implicit TLS); the sender is NOTIFIER_FROM_EMAIL.
"""

from __future__ import annotations

import smtplib
import socket
import ssl

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.core.validators import validate_email
from django.db import models

from channels.base import ChannelError, Delivery, ErrorCode, SendContext, sender, test_subject
from channels.messages import render, render_html
from notifier.events import DeploymentEvent, Event
from registrations.models import NotificationSetup, split_groups

KIND = "email"
LABEL = "Email (SMTP)"
SHORT_LABEL = "Email"  # where space is tight: badges, chart legends
DEFAULT_EVENTS = (Event.SUCCEEDED.value, Event.FAILED.value, Event.STOPPED.value)
TEMPLATE_PARTS = ("subject", "body")


def split_recipients(text: str) -> list[str]:
    return split_groups(text)  # the same comma/space/newline splitting


NOTIFY_DEPLOYER_HELP = (
    "Also send to the person who deployed: their email from People rules, or the IAM Identity "
    "Center sign-in that created the deployment. Waits up to NOTIFIER_DEPLOYER_WAIT seconds "
    "for CloudTrail to name them, then sends to the recipients above alone."
)


def notify_deployer_field() -> models.BooleanField:
    return models.BooleanField(
        "also send to the person who deployed", default=True, help_text=NOTIFY_DEPLOYER_HELP
    )


def recipients_for(event: DeploymentEvent, setup: NotificationSetup) -> list[str]:
    """The setup's recipients, and the person who deployed when the setup asks for them."""
    recipients = split_recipients(setup.recipients)
    email = event.deployer.email
    known = {r.lower() for r in recipients}
    if setup.notify_deployer and event.deployer.is_person and email and email.lower() not in known:
        recipients.append(email)
    return recipients


def validate_recipients(text: str) -> None:
    recipients = split_recipients(text)
    if not recipients:
        raise ValidationError("Give at least one email address.")
    limit = settings.NOTIFIER_MAX_RECIPIENTS
    if len(recipients) > limit:
        raise ValidationError(
            f"recipients: at most {limit} addresses per setup (NOTIFIER_MAX_RECIPIENTS), not "
            f"{len(recipients)}; send to a mailing list instead."
        )
    bad = []
    for address in recipients:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(f"Not an email address: {', '.join(bad)}.")


class EmailSetup(NotificationSetup):
    recipients = models.CharField(
        max_length=2000,
        validators=[validate_recipients],
        help_text="Who gets the email: addresses separated by commas or spaces.",
    )
    notify_deployer = notify_deployer_field()

    class Meta:
        verbose_name = "Email (SMTP)"

    def __str__(self) -> str:
        return f"Email to {self.recipients}"

    def wants_deployer(self) -> bool:
        return self.notify_deployer


SETUP_MODEL = EmailSetup
SETUP_FIELDS = ("recipients", "notify_deployer")


def thread_id(event: DeploymentEvent) -> str:
    """All emails about one deployment share a References header, so mail clients thread them."""
    return f"<{event.deployment_id}.codedeploy-notifier@{event.region or 'aws'}>"


def build_message(
    event: DeploymentEvent,
    setup: NotificationSetup,
    *,
    recipients: list[str],
    from_email: str,
    delivery_id: str = "",
    test: bool = False,
) -> EmailMultiAlternatives:
    """The multipart message (text, then HTML), not yet bound to a connection. With a
    delivery id, it carries X-Notifier-Delivery and a Message-ID made from it, so a repeat
    has the same Message-ID as the first. A test send has X-Notifier-Test: true and a
    subject beginning [TEST]."""
    identity = {
        "X-Notifier-Delivery": delivery_id,
        "Message-ID": f"<{delivery_id}@codedeploy-notifier>",
    }
    message = EmailMultiAlternatives(
        subject=test_subject(render(KIND, "subject", event, setup), test=test),
        body=render(KIND, "body", event, setup) + "\n",
        from_email=from_email,
        to=recipients,
        headers={
            "References": thread_id(event),
            "X-CodeDeploy-Deployment": event.deployment_id,
            "X-CodeDeploy-Event": event.event.value,
            **(identity if delivery_id else {}),
            **({"X-Notifier-Test": "true"} if test else {}),
        },
    )
    message.attach_alternative(render_html(KIND, event, setup), "text/html")
    return message


def connection() -> EmailBackend:
    if not settings.EMAIL_URL:
        raise ChannelError(
            "EMAIL_URL is not set: set it to your SMTP server, e.g. "
            "smtp://user:password@smtp.example.com:587?tls=true, and restart the service",
            code=ErrorCode.BAD_CONFIG,
        )
    return EmailBackend(
        host=settings.EMAIL_HOST,
        port=settings.EMAIL_PORT,
        username=settings.EMAIL_HOST_USER,
        password=settings.EMAIL_HOST_PASSWORD,
        use_tls=settings.EMAIL_USE_TLS,
        use_ssl=settings.EMAIL_USE_SSL,
        timeout=settings.NOTIFIER_SEND_TIMEOUT,
        fail_silently=False,
    )


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


def _smtp_code(reply: int, *, permanent: ErrorCode) -> ErrorCode:
    """4xx SMTP replies are the server's temporary trouble ("try again later")."""
    if 400 <= reply < 500:
        return ErrorCode.SERVER_ERROR
    if reply in (530, 535):  # authentication required / credentials invalid (RFC 4954)
        return ErrorCode.UNAUTHORIZED
    return permanent


def smtp_error(exc: Exception) -> ChannelError:
    """SMTP's answer -> ChannelError: 4xx replies and connection trouble are worth a retry."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ChannelError(
            f"the SMTP server refused the user name and password in EMAIL_URL ({exc.smtp_code})",
            code=ErrorCode.UNAUTHORIZED,
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(
            f"{address} ({code} {_text(reason)})"
            for address, (code, reason) in exc.recipients.items()
        )
        temporary = all(400 <= code < 500 for code, _ in exc.recipients.values())
        return ChannelError(
            f"the SMTP server refused the recipients {refused}",
            code=ErrorCode.SERVER_ERROR if temporary else ErrorCode.BAD_REQUEST,
            retryable=temporary,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return ChannelError(
            f"the SMTP server refused the sender {exc.sender} ({exc.smtp_code}): check "
            "NOTIFIER_FROM_EMAIL",
            code=_smtp_code(exc.smtp_code, permanent=ErrorCode.BAD_CONFIG),
            retryable=400 <= exc.smtp_code < 500,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return ChannelError(
            f"the SMTP server answered {exc.smtp_code} {_text(exc.smtp_error)}".strip(),
            code=_smtp_code(exc.smtp_code, permanent=ErrorCode.BAD_REQUEST),
            retryable=400 <= exc.smtp_code < 500,
        )
    if isinstance(exc, ssl.SSLError):
        return ChannelError(
            f"TLS with the SMTP server failed: {exc}; check EMAIL_URL", code=ErrorCode.UNREACHABLE
        )
    if isinstance(exc, (smtplib.SMTPException, socket.timeout, OSError)):
        timed_out = isinstance(exc, socket.timeout | TimeoutError)
        return ChannelError(
            f"could not talk to the SMTP server: {exc}",
            code=ErrorCode.TIMEOUT if timed_out else ErrorCode.UNREACHABLE,
            retryable=True,
        )
    raise exc


@sender
def send(event: DeploymentEvent, setup: EmailSetup, context: SendContext) -> Delivery:
    recipients = recipients_for(event, setup)
    message = build_message(
        event,
        setup,
        recipients=recipients,
        from_email=settings.NOTIFIER_FROM_EMAIL,
        delivery_id=context.delivery_id,
        test=context.test,
    )
    message.connection = connection()
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise smtp_error(exc) from None
    return Delivery(detail=f"sent to {len(recipients)} recipient(s)")
