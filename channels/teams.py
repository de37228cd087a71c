"""Microsoft Teams: an Adaptive Card posted to a Workflows webhook.

The webhook comes from the Teams channel's Workflows app ("Post to a channel when a webhook
request is received"); it accepts the message-with-attachments envelope and answers 202.
Docs: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/
how-to/add-incoming-webhook and https://adaptivecards.io/explorer/
"""

from __future__ import annotations

from typing import Any

from channels import http
from channels.addresses import validate_user_url
from channels.base import Delivery, SendContext, sender, test_subject
from channels.message_filters import markdown
from channels.messages import render
from channels.secrets import SecretField
from notifier.events import DeploymentEvent, Event
from registrations.models import NotificationSetup

KIND = "teams"
LABEL = "Microsoft Teams card"
SHORT_LABEL = "Teams"  # where space is tight: badges, chart legends
DEFAULT_EVENTS = (Event.SUCCEEDED.value, Event.FAILED.value, Event.STOPPED.value)
TEMPLATE_PARTS = ("subject", "body")
WHAT = "the Teams workflow"
_COLOURS = {Event.SUCCEEDED: "Good", Event.FAILED: "Attention", Event.STOPPED: "Warning"}


class TeamsSetup(NotificationSetup):
    webhook_url = SecretField(
        "Workflows webhook URL",
        validators=[validate_user_url],
        help_text="In the Teams channel: Workflows > 'Post to a channel when a webhook request "
        "is received'; paste the URL it gives. Stored encrypted (it carries a signature).",
    )

    class Meta:
        verbose_name = "Microsoft Teams card"

    def __str__(self) -> str:
        return "Microsoft Teams card"


SETUP_MODEL = TeamsSetup
SETUP_FIELDS = ("webhook_url",)


def _facts(event: DeploymentEvent, *, test: bool) -> list[dict[str, str]]:
    facts = [
        {"title": "Application", "value": event.application},
        {"title": "Deployment group", "value": event.deployment_group},
        {"title": "Status", "value": event.status},
        {"title": "Deployment", "value": event.deployment_id},
    ]
    if event.error_code:
        facts.append({"title": "Error", "value": event.error_code})
    if event.rollback.rollback_deployment_id:
        facts.append({"title": "Rollback", "value": event.rollback.rollback_deployment_id})
    if event.failure:
        facts.append({"title": "Failed at", "value": event.failure.lifecycle_event})
        facts.append({"title": "Target", "value": event.failure.target_id})
    if test:
        facts.append({"title": "Test", "value": "true"})
    return facts


def card(event: DeploymentEvent, setup: TeamsSetup, *, test: bool = False) -> dict[str, Any]:
    """The Adaptive Card (schema 1.4, what Teams renders) in the Workflows envelope; a test
    send's title begins [TEST] and its facts include Test: true."""
    facts = _facts(event, test=test)
    actions = []
    if event.console_url:
        actions.append(
            {"type": "Action.OpenUrl", "title": "Open in the AWS console", "url": event.console_url}
        )
    if event.revision.url:
        actions.append({"type": "Action.OpenUrl", "title": "Revision", "url": event.revision.url})
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {
                "type": "TextBlock",
                "text": test_subject(render(KIND, "subject", event, setup), test=test),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": _COLOURS.get(event.event, "Default"),
            },
            {"type": "TextBlock", "text": render(KIND, "body", event, setup), "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    if event.failure and event.failure.log_tail_short:
        # the last lines of the hook's log, as a short code block (Teams has no Markdown one)
        content["body"].append(
            {
                "type": "TextBlock",
                "text": markdown(event.failure.log_tail_short),
                "fontType": "Monospace",
                "size": "Small",
                "wrap": True,
            }
        )
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": content,
            }
        ],
    }


@sender
def send(event: DeploymentEvent, setup: TeamsSetup, context: SendContext) -> Delivery:
    response = http.request(
        "POST",
        setup.webhook_url,
        what=WHAT,
        json=card(event, setup, test=context.test),
        user_url=True,
    )
    # Accepted: a Workflows (Power Automate) trigger answers 202 with an empty body; a legacy
    # Office 365 connector answers 200 with the body "1" (and its errors 200 with text).
    # https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
    if not _accepted(response.status_code, response.text):
        raise http.bad_response(
            response, what=WHAT, expected="202, or 200 with the body 1 (a legacy connector)"
        )
    return http.ok(response, f"{response.status_code} {response.reason}")


def _accepted(status: int, body: str) -> bool:
    if status == 202:
        return not body.lstrip().startswith("<")
    return status == 200 and body.strip() == "1"
