"""PagerDuty change events (Events API v2): deployments show on the service's timeline.

Docs: https://developer.pagerduty.com/docs/events-api-v2/send-change-events/
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from channels import http
from channels.base import ChannelError, Delivery, ErrorCode, SendContext, sender, test_subject
from channels.messages import render
from channels.secrets import SecretField
from notifier.events import DeploymentEvent, Event
from registrations.models import NotificationSetup

KIND = "pagerduty"
LABEL = "PagerDuty change event"
SHORT_LABEL = "PagerDuty"  # where space is tight: badges, chart legends
DEFAULT_EVENTS = (Event.SUCCEEDED.value, Event.FAILED.value, Event.STOPPED.value)
TEMPLATE_PARTS = ("subject", "body")
WHAT = "PagerDuty"
SUMMARY_MAX = 1024  # PagerDuty truncates longer summaries
_ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")


class PagerDutySetup(NotificationSetup):
    routing_key = SecretField(
        "integration key",
        help_text="The 32-character Integration Key of an 'Events API V2' integration on the "
        "PagerDuty service (Service > Integrations). Stored encrypted.",
    )

    class Meta:
        verbose_name = "PagerDuty change event"

    def __str__(self) -> str:
        return "PagerDuty change event"

    def clean(self) -> None:
        super().clean()
        if self.routing_key and not _ROUTING_KEY.match(self.routing_key.strip()):
            raise ValidationError(
                {
                    "routing_key": "An integration key is 32 letters and digits; copy it from the "
                    "service's Events API V2 integration."
                }
            )


SETUP_MODEL = PagerDutySetup
SETUP_FIELDS = ("routing_key",)
SETUP_SCHEMA = {"routing_key": {"pattern": _ROUTING_KEY.pattern}}


def change_event(
    event: DeploymentEvent, setup: PagerDutySetup, *, test: bool = False
) -> dict[str, Any]:
    """The change event; a test send's summary begins [TEST] and custom_details.test is true."""
    when = event.complete_time or event.start_time or event.create_time
    details: dict[str, Any] = {
        "deployment_id": event.deployment_id,
        "application": event.application,
        "deployment_group": event.deployment_group,
        "status": event.status,
        "event": event.event.value,
        "revision": event.revision.summary,
        "creator": event.creator,
        "started_by": event.started_by,
        "instances": (
            f"{event.instances.succeeded} succeeded, {event.instances.failed} failed, "
            f"{event.instances.skipped} skipped of {event.instances.total}"
        ),
        "details": render(KIND, "body", event, setup),
    }
    if event.error_code:
        details["error"] = f"{event.error_code}: {event.error_message}"
    if event.rollback.rollback_deployment_id:
        details["rollback_deployment_id"] = event.rollback.rollback_deployment_id
    if event.failure:
        details["failed_at"] = event.failure.summary
        details["failure"] = event.failure.to_dict()
    if test:
        details["test"] = True
    payload: dict[str, Any] = {
        "summary": test_subject(render(KIND, "subject", event, setup), test=test)[:SUMMARY_MAX],
        "source": f"codedeploy:{event.application}/{event.deployment_group}",
        "custom_details": details,
    }
    if when:
        payload["timestamp"] = when.isoformat()
    links = []
    if event.console_url:
        links.append({"href": event.console_url, "text": "Deployment in the AWS console"})
    if event.revision.url:
        links.append({"href": event.revision.url, "text": f"Revision {event.revision.summary}"})
    return {"routing_key": setup.routing_key.strip(), "payload": payload, "links": links}


@sender
def send(event: DeploymentEvent, setup: PagerDutySetup, context: SendContext) -> Delivery:
    response = http.request(
        "POST",
        f"{settings.PAGERDUTY_EVENTS_URL}/v2/change/enqueue",
        what=WHAT,
        json=change_event(event, setup, test=context.test),
        expect_errors=True,
    )
    if response.status_code == 400:
        # 400 means the routing key or the event is wrong; its body says which.
        try:
            errors = "; ".join(response.json().get("errors", [])) or response.text[:200]
        except ValueError:
            errors = response.text[:200]
        raise ChannelError(
            f"PagerDuty refused the change event (400): {errors}. Check the integration key "
            "is an Events API V2 key of the service",
            code=ErrorCode.BAD_REQUEST,
            response_status=400,
        )
    if response.status_code >= 300:
        raise http.error_for(response, what=WHAT)
    # Accepted: 202 with JSON {"status": "success", ...}.
    # https://developer.pagerduty.com/api-reference/95db350959c37-send-change-events-to-the-pager-duty-events-api
    expected = 'JSON {"status": "success"}'
    answer = http.json_answer(response, what=WHAT, expected=expected)
    if answer.get("status") != "success":
        raise http.bad_response(response, what=WHAT, expected=expected)
    return http.ok(response, f"{response.status_code} {answer.get('message', response.reason)}")
