"""New Relic deployment markers: REST API v2 (by application name), or NerdGraph change
tracking (changeTrackingCreateDeployment, by entity GUID), chosen per setup.

Docs: https://docs.newrelic.com/docs/apis/rest-api-v2/application-examples-v2/
list-your-app-id-metric-timeslice-data-v2/ and .../record-deployments-rest-api-v2/;
https://docs.newrelic.com/docs/change-tracking/change-tracking-graphql/"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from channels import http
from channels.base import (
    ChannelError,
    Delivery,
    ErrorCode,
    SendContext,
    code_for_status,
    sender,
    test_marked,
)
from channels.messages import render
from notifier.events import DeploymentEvent, Event
from registrations.models import NotificationSetup

KIND = "newrelic"
LABEL = "New Relic deployment marker"
SHORT_LABEL = "New Relic"  # where space is tight: badges, chart legends
DEFAULT_EVENTS = (Event.SUCCEEDED.value,)
TEMPLATE_PARTS = ("subject", "body")  # the marker's description and changelog
REST = "rest"
NERDGRAPH = "nerdgraph"
WHAT = "New Relic"
APP_ID_TTL = 600.0  # seconds an application id lookup is trusted


class NewRelicSetup(NotificationSetup):
    api = models.CharField(
        "New Relic API",
        max_length=16,
        choices=[
            (REST, "REST API v2 deployment marker (by APM application name)"),
            (NERDGRAPH, "NerdGraph change tracking (by entity GUID)"),
        ],
        default=REST,
        blank=True,  # left out (older clients, the original request): REST
        help_text="REST v2 marks an APM application; NerdGraph change tracking marks any "
        "entity (APM, browser, mobile, a service) by its GUID.",
    )
    application_name = models.CharField(
        "New Relic application name",
        max_length=255,
        blank=True,
        help_text="Exactly as New Relic APM shows it; the marker goes on this application.",
    )
    entity_guid = models.CharField(
        "entity GUID",
        max_length=255,
        blank=True,
        help_text="For NerdGraph: the entity's GUID (the entity's page in New Relic > "
        "Metadata, e.g. MXxBUE18QVBQTElDQVRJT058MTIzNDU2).",
    )

    class Meta:
        verbose_name = "New Relic deployment marker"

    def __str__(self) -> str:
        return f"New Relic marker on {self.application_name or self.entity_guid}"

    def clean(self) -> None:
        super().clean()
        self.api = self.api or REST
        if self.api == NERDGRAPH and not _GUID.match(self.entity_guid.strip()):
            raise ValidationError(
                {
                    "entity_guid": "NerdGraph change tracking needs the entity GUID (letters, "
                    "digits, + / = _ -), from the entity's Metadata in New Relic."
                }
            )
        if self.api != NERDGRAPH and not self.application_name.strip():
            raise ValidationError(
                {"application_name": "The REST API needs the APM application name."}
            )


SETUP_MODEL = NewRelicSetup
SETUP_FIELDS = ("application_name", "api", "entity_guid")
_GUID = re.compile(r"^[A-Za-z0-9+/=_-]{8,255}$")


# --- building the request (pure) ----------------------------------------------------------


def marker_revision(event: DeploymentEvent) -> str:
    """The GitHub commit id; for S3, bucket/key plus version or ETag; else the deployment."""
    revision = event.revision
    if revision.commit_id:
        return revision.commit_id
    if revision.bucket:
        suffix = (
            f"@{revision.version}"
            if revision.version
            else (f"#{revision.etag}" if revision.etag else "")
        )
        return f"{revision.bucket}/{revision.key}{suffix}"
    return revision.summary or event.deployment_id


def delivery_line(delivery_id: str) -> str:
    """Ends a marker's changelog, so a marker can be matched to its delivery exactly."""
    return f"\n\nNotifier delivery {delivery_id}" if delivery_id else ""


def marker_body(
    event: DeploymentEvent, setup: Any = None, *, delivery_id: str = "", test: bool = False
) -> dict:
    """REST v2: description and changelog from the setup's templates (or the defaults)."""
    deployment = {
        "revision": marker_revision(event)[:127],
        "description": test_marked(render(KIND, "subject", event, setup), test=test),
        "user": test_marked(event.started_by or "CodeDeploy", test=test),
        "changelog": render(KIND, "body", event, setup) + delivery_line(delivery_id),
    }
    return {"deployment": deployment}


CHANGE_TRACKING_MUTATION = """
mutation ($deployment: ChangeTrackingDeploymentInput!) {
  changeTrackingCreateDeployment(deployment: $deployment) { deploymentId entityGuid }
}
""".strip()


def change_tracking_request(
    event: DeploymentEvent, setup: Any, *, delivery_id: str = "", test: bool = False
) -> dict[str, Any]:
    """NerdGraph: the changeTrackingCreateDeployment mutation with its variables."""
    when = event.complete_time or event.start_time or event.create_time
    deployment: dict[str, Any] = {
        "entityGuid": setup.entity_guid.strip(),
        "version": marker_revision(event)[:127],
        "description": test_marked(render(KIND, "subject", event, setup), test=test),
        "changelog": render(KIND, "body", event, setup) + delivery_line(delivery_id),
        "user": test_marked(event.started_by or "CodeDeploy", test=test),
        "groupId": event.deployment_id,
        "deploymentType": "BASIC",
    }
    if event.revision.commit_id:
        deployment["commit"] = event.revision.commit_id
    if event.console_url:
        deployment["deepLink"] = event.console_url
    if when:
        deployment["timestamp"] = int(when.timestamp() * 1000)  # epoch milliseconds
    return {"query": CHANGE_TRACKING_MUTATION, "variables": {"deployment": deployment}}


def _headers() -> dict[str, str]:
    if not settings.NEW_RELIC_API_KEY:
        raise ChannelError(
            "NEW_RELIC_API_KEY is not set: set it to a New Relic User API key "
            "and restart the service",
            code=ErrorCode.BAD_CONFIG,
        )
    return {"X-Api-Key": settings.NEW_RELIC_API_KEY, "Content-Type": "application/json"}


# --- sending ------------------------------------------------------------------------------

_app_ids: dict[tuple[str, str], tuple[int, float]] = {}
_app_ids_lock = threading.Lock()


def _auth_error(response) -> ChannelError | None:
    if response.status_code in (401, 403):
        return ChannelError(
            f"New Relic rejected NEW_RELIC_API_KEY ({response.status_code}): check that it is a "
            "valid User API key with access to this account",
            code=code_for_status(response.status_code),
            response_status=response.status_code,
        )
    return None


def application_id(name: str) -> int:
    """The id of the APM application named exactly `name` (cached for APP_ID_TTL)."""
    cache_key = (settings.NEW_RELIC_API_URL, name)
    with _app_ids_lock:
        cached = _app_ids.get(cache_key)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    response = http.request(
        "GET",
        f"{settings.NEW_RELIC_API_URL}/v2/applications.json",
        what=WHAT,
        params={"filter[name]": name},
        headers=_headers(),
        expect_errors=True,
    )
    if not response.ok:
        raise _auth_error(response) or http.error_for(response, what=WHAT)
    try:
        applications = response.json().get("applications", [])
    except ValueError:
        raise ChannelError(
            "New Relic answered the application lookup with something that is not JSON",
            code=ErrorCode.SERVER_ERROR,
            retryable=True,
        ) from None
    # filter[name] matches substrings: keep the exact name only.
    matches = [a for a in applications if a.get("name") == name]
    if not matches:
        raise ChannelError(
            f"New Relic has no application named {name!r}: correct this setup's application name",
            code=ErrorCode.NOT_FOUND,
            response_status=response.status_code,
        )
    app_id = int(matches[0]["id"])
    with _app_ids_lock:
        _app_ids[cache_key] = (app_id, time.monotonic() + APP_ID_TTL)
    return app_id


def forget_application(name: str) -> None:
    with _app_ids_lock:
        _app_ids.pop((settings.NEW_RELIC_API_URL, name), None)


# NerdGraph answers 200 with "errors"; these classes are worth another try.
# https://docs.newrelic.com/docs/apis/nerdgraph/get-started/nerdgraph-explorer/
RETRYABLE_GRAPHQL = {"SERVER_ERROR", "TIMEOUT", "INTERNAL_SERVER_ERROR"}


def _graphql_code(classes: set[str]) -> ErrorCode:
    """NerdGraph's error classes (extensions.errorClass) -> ErrorCode."""
    if classes & RETRYABLE_GRAPHQL:
        return ErrorCode.TIMEOUT if classes == {"TIMEOUT"} else ErrorCode.SERVER_ERROR
    if classes & {"FORBIDDEN", "ACCESS_DENIED"}:
        return ErrorCode.FORBIDDEN
    if classes & {"UNAUTHORIZED", "UNAUTHENTICATED"}:
        return ErrorCode.UNAUTHORIZED
    if classes & {"NOT_FOUND"}:
        return ErrorCode.NOT_FOUND
    return ErrorCode.BAD_REQUEST


def send_change_tracking(
    event: DeploymentEvent, setup: NewRelicSetup, context: SendContext
) -> Delivery:
    if not settings.NEW_RELIC_API_KEY:
        _headers()  # raises the clear "not set" error
    response = http.request(
        "POST",
        settings.NEW_RELIC_NERDGRAPH_URL,
        what="New Relic NerdGraph",
        json=change_tracking_request(
            event, setup, delivery_id=context.delivery_id, test=context.test
        ),
        headers={"API-Key": settings.NEW_RELIC_API_KEY, "Content-Type": "application/json"},
        expect_errors=True,
    )
    if response.status_code >= 300:
        raise _auth_error(response) or http.error_for(response, what="New Relic NerdGraph")
    # Accepted: 200 JSON with data.changeTrackingCreateDeployment.deploymentId, no errors.
    expected = "JSON with data.changeTrackingCreateDeployment.deploymentId"
    answer = http.json_answer(response, what="New Relic NerdGraph", expected=expected)
    errors = answer.get("errors") or []
    if errors:
        messages = "; ".join(str(e.get("message", e)) for e in errors)[:500]
        classes = {str((e.get("extensions") or {}).get("errorClass", "")) for e in errors}
        raise ChannelError(
            f"New Relic NerdGraph refused the change tracking marker: {messages}",
            code=_graphql_code(classes),
            retryable=bool(classes & RETRYABLE_GRAPHQL),
            response_status=response.status_code,
        )
    created = (answer.get("data") or {}).get("changeTrackingCreateDeployment") or {}
    if not created.get("deploymentId"):
        raise http.bad_response(response, what="New Relic NerdGraph", expected=expected)
    return Delivery(
        response_status=response.status_code,
        detail=f"change tracking deployment {created.get('deploymentId', '')} on "
        f"{created.get('entityGuid', setup.entity_guid)}",
    )


@sender
def send(event: DeploymentEvent, setup: NewRelicSetup, context: SendContext) -> Delivery:
    if getattr(setup, "api", REST) == NERDGRAPH:
        return send_change_tracking(event, setup, context)
    app_id = application_id(setup.application_name)
    body = marker_body(event, setup, delivery_id=context.delivery_id, test=context.test)
    if context.in_flight_before and (found := marker_sent(app_id, body, context.delivery_id)):
        return Delivery(
            response_status=200,
            detail=f"marker {found} on application {app_id} was recorded before the sender "
            "stopped; not sent again",
        )
    response = http.request(
        "POST",
        f"{settings.NEW_RELIC_API_URL}/v2/applications/{app_id}/deployments.json",
        what=WHAT,
        json=body,
        headers=_headers(),
        expect_errors=True,
    )
    if response.status_code == 404:
        forget_application(setup.application_name)
        raise ChannelError(
            f"New Relic has no application with id {app_id} (was "
            f"{setup.application_name!r} deleted?); will look it up again",
            code=ErrorCode.NOT_FOUND,
            retryable=True,
            response_status=404,
        )
    if not response.ok:
        raise _auth_error(response) or http.error_for(response, what=WHAT)
    # Accepted: 201 (or 200) with JSON deployment.id.
    answer = http.json_answer(response, what=WHAT, expected="JSON with deployment.id")
    marker_id = (answer.get("deployment") or {}).get("id")
    if not marker_id:
        raise http.bad_response(response, what=WHAT, expected="JSON with deployment.id")
    return Delivery(
        response_status=response.status_code, detail=f"marker {marker_id} on application {app_id}"
    )


def marker_sent(app_id: int, body: dict[str, Any], delivery_id: str) -> str:
    """The id of a marker this delivery recorded (revision, delivery line), or "" (or error)."""
    try:
        response = http.request(
            "GET",
            f"{settings.NEW_RELIC_API_URL}/v2/applications/{app_id}/deployments.json",
            what=WHAT,
            headers=_headers(),
        )
        markers = http.json_answer(response, what=WHAT, expected="JSON").get("deployments")
    except ChannelError:
        return ""
    revision, line = body["deployment"]["revision"], delivery_line(delivery_id).strip()
    for marker in markers or []:
        if marker.get("revision") == revision and line in str(marker.get("changelog", "")):
            return str(marker.get("id", ""))
    return ""
