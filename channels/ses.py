"""Email through Amazon SES (API v2, SendEmail), with boto3's own AWS configuration.

The from-address (or its domain) must be a verified SES identity; while the account is in
the SES sandbox every recipient must be verified too.
Docs: https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models

from channels import aws
from channels.base import ChannelError, Delivery, ErrorCode, SendContext, sender, test_subject
from channels.email import notify_deployer_field, recipients_for, validate_recipients
from channels.messages import render, render_html
from notifier.events import DeploymentEvent, Event
from registrations.models import NotificationSetup

KIND = "ses"
LABEL = "Email (Amazon SES)"
SHORT_LABEL = "SES"  # where space is tight: badges, chart legends
DEFAULT_EVENTS = (Event.SUCCEEDED.value, Event.FAILED.value, Event.STOPPED.value)
TEMPLATE_PARTS = ("subject", "body")
WHAT = "Amazon SES"


def allowed_senders() -> list[str]:
    """NOTIFIER_SES_FROM_ALLOWED, or the service's own address when it is empty."""
    return list(settings.NOTIFIER_SES_FROM_ALLOWED) or [settings.NOTIFIER_FROM_EMAIL]


def from_address_problem(address: str) -> str | None:
    """Why a setup may not send as `address`, or None if it may.

    An entry is an address, or `@domain` for every address at exactly that domain (not its
    subdomains); case does not matter.
    """
    wanted = address.strip().lower()
    domain = wanted.rpartition("@")[2]
    for entry in allowed_senders():
        entry = entry.strip().lower()
        if entry == wanted or (entry.startswith("@") and entry[1:] == domain):
            return None
    return (
        f"from_address {address!r} is not an address this service may send as; allowed: "
        f"{', '.join(allowed_senders())} (NOTIFIER_SES_FROM_ALLOWED). Use one of those, or ask "
        "the service's operators to allow this address"
    )


class SesSetup(NotificationSetup):
    from_address = models.CharField(
        "from address",
        max_length=320,
        validators=[validate_email],
        help_text="The sender; it (or its domain) must be a verified identity in SES, in the "
        "service's AWS region.",
    )
    recipients = models.CharField(
        max_length=2000,
        validators=[validate_recipients],
        help_text="Who gets the email: addresses separated by commas or spaces. In the SES "
        "sandbox they must be verified too.",
    )
    notify_deployer = notify_deployer_field()

    class Meta:
        verbose_name = "Email (Amazon SES)"

    def __str__(self) -> str:
        return f"SES email to {self.recipients}"

    def wants_deployer(self) -> bool:
        return self.notify_deployer

    def clean(self) -> None:
        errors: dict = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        problem = from_address_problem(self.from_address or "")
        if problem:
            errors.setdefault("from_address", []).append(problem)
        if errors:
            raise ValidationError(errors)


SETUP_MODEL = SesSetup
SETUP_FIELDS = ("from_address", "recipients", "notify_deployer")


def _part(text: str) -> dict[str, str]:
    return {"Data": text, "Charset": "UTF-8"}


def email_request(event: DeploymentEvent, setup: SesSetup, *, test: bool = False) -> dict[str, Any]:
    """The SendEmail parameters: a simple message with text and HTML bodies. A test send has
    a subject beginning [TEST], the header X-Notifier-Test: true and the tag test=true."""
    subject = test_subject(render(KIND, "subject", event, setup), test=test)
    request: dict[str, Any] = {
        "FromEmailAddress": setup.from_address,
        "Destination": {"ToAddresses": recipients_for(event, setup)},
        "Content": {
            "Simple": {
                "Subject": _part(subject),
                "Body": {
                    "Text": _part(render(KIND, "body", event, setup) + "\n"),
                    "Html": _part(render_html(KIND, event, setup)),
                },
            }
        },
    }
    if test:
        request["Content"]["Simple"]["Headers"] = [{"Name": "X-Notifier-Test", "Value": "true"}]
        request["EmailTags"] = [{"Name": "test", "Value": "true"}]
    return request


@sender
def send(event: DeploymentEvent, setup: SesSetup, context: SendContext) -> Delivery:
    problem = from_address_problem(setup.from_address)
    if problem:  # saved before the rule, or written straight into the database
        raise ChannelError(problem, code=ErrorCode.BAD_CONFIG)
    client = aws.client("sesv2")
    try:
        answer = aws.call(WHAT, client.send_email, **email_request(event, setup, test=context.test))
    except ChannelError as exc:
        if exc.provider_code == "MessageRejected" and "not verified" in exc.message.lower():
            # MessageRejected: "Email address is not verified. The following identities
            # failed the check in region ...": a retry cannot help. AWS has no finer error
            # code for this, so its own message tells it apart from other rejections.
            raise ChannelError(
                f"SES refused to send: an address is not verified ({exc.message}). Verify "
                f"{setup.from_address} (or its domain) in SES in "
                f"{client.meta.region_name}; while the account is in the SES sandbox, verify "
                "every recipient too",
                code=ErrorCode.BAD_CONFIG,
                response_status=exc.response_status,
                provider_code=exc.provider_code,
            ) from None
        raise
    return Delivery(response_status=200, detail=f"SES message {aws.message_id(answer, what=WHAT)}")
