"""Signed webhooks: POST the DeploymentEvent as JSON to any URL.

With a secret, `X-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` lets the receiver
check the message came from us (the scheme GitHub uses:
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
`X-Notifier-Delivery` carries the delivery's stable id, the same on every retry and resend,
so a receiver can drop repeats (as GitHub's X-GitHub-Delivery); like GitHub's, it is outside
the signature, which covers the body only. Any 2xx is accepted: the receiver is ours to define.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from channels import http
from channels.addresses import validate_user_url
from channels.base import Delivery, SendContext, sender
from channels.secrets import SecretField
from notifier.events import DeploymentEvent, Event
from registrations.models import NotificationSetup

KIND = "webhook"
LABEL = "Signed webhook"
SHORT_LABEL = "Webhook"  # where space is tight: badges, chart legends
DEFAULT_EVENTS = (Event.SUCCEEDED.value, Event.FAILED.value, Event.STOPPED.value)
TEMPLATE_PARTS: tuple[str, ...] = ()  # the body is the DeploymentEvent itself
WHAT = "the webhook"
SIGNATURE_HEADER = "X-Signature-256"
DELIVERY_HEADER = "X-Notifier-Delivery"
TEST_HEADER = "X-Notifier-Test"  # "true" on a test send, absent otherwise
RESERVED_HEADERS = {
    "host",
    "content-length",
    "content-type",
    SIGNATURE_HEADER.lower(),
    DELIVERY_HEADER.lower(),
}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def parse_headers(text: str) -> dict[str, str]:
    """'Name: value' lines -> dict; ValueError names the line that is wrong."""
    headers: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _HEADER_NAME.match(name) or not value:
            raise ValueError(f"line {number} is not 'Name: value'")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"line {number}: the service sets {name} itself")
        headers[name] = value
    return headers


class WebhookSetup(NotificationSetup):
    url = SecretField(
        "URL",
        validators=[validate_user_url],
        help_text="Where to POST the deployment as JSON (https://...). Stored encrypted, "
        "since URLs often carry a token.",
    )
    secret = SecretField(
        "signing secret",
        blank=True,
        help_text="Optional. With a secret, each request carries X-Signature-256: "
        "sha256=<hex HMAC-SHA256 of the body> so the receiver can check it came from us.",
    )
    headers = SecretField(
        "extra headers",
        blank=True,
        multiline=True,
        help_text="Optional, one 'Name: value' per line, e.g. 'Authorization: Bearer ...'. "
        "Stored encrypted.",
    )

    class Meta:
        verbose_name = "Signed webhook"

    def __str__(self) -> str:
        return "Signed webhook"

    def clean(self) -> None:
        super().clean()
        try:
            parse_headers(self.headers)
        except ValueError as exc:
            raise ValidationError({"headers": str(exc)}) from None


SETUP_MODEL = WebhookSetup
SETUP_FIELDS = ("url", "secret", "headers")


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def build_request(
    event: DeploymentEvent, setup: WebhookSetup, *, delivery_id: str = "", test: bool = False
) -> WebhookRequest:
    """The signed POST; a test send says so in a header and in the body ("test": true)."""
    data = {**event.to_dict(), "test": True} if test else event.to_dict()
    body = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        **parse_headers(setup.headers),
        "Content-Type": "application/json",
        "X-CodeDeploy-Event": event.event.value,
        "X-CodeDeploy-Deployment": event.deployment_id,
    }
    if delivery_id:
        headers[DELIVERY_HEADER] = delivery_id
    if test:
        headers[TEST_HEADER] = "true"
    if setup.secret:
        headers[SIGNATURE_HEADER] = signature(setup.secret, body)
    return WebhookRequest(url=setup.url, body=body, headers=headers)


@sender
def send(event: DeploymentEvent, setup: WebhookSetup, context: SendContext) -> Delivery:
    request = build_request(event, setup, delivery_id=context.delivery_id, test=context.test)
    response = http.request(
        "POST", request.url, what=WHAT, data=request.body, headers=request.headers, user_url=True
    )
    return http.ok(response, f"{response.status_code} {response.reason}")
