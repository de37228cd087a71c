"""New Relic deployment markers through the REST API v2.

Docs: https://docs.newrelic.com/docs/apis/rest-api-v2/application-examples-v2/
list-your-app-id-metric-timeslice-data-v2/ and .../record-deployments-rest-api-v2/
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.db import models

from channels import http
from channels.base import ChannelError, Delivery
from notifier.events import DeploymentEvent, Event
from registrations.models import NotificationSetup

KIND = "newrelic"
LABEL = "New Relic deployment marker"
DEFAULT_EVENTS = (Event.SUCCEEDED.value,)
WHAT = "New Relic"
APP_ID_TTL = 600.0  # seconds an application id lookup is trusted


class NewRelicSetup(NotificationSetup):
    application_name = models.CharField(
        "New Relic application name",
        max_length=255,
        help_text="Exactly as New Relic APM shows it; the marker goes on this application.",
    )

    class Meta:
        verbose_name = "New Relic deployment marker"

    def __str__(self) -> str:
        return f"New Relic marker on {self.application_name}"


SETUP_MODEL = NewRelicSetup
SETUP_FIELDS = ("application_name",)


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


def marker_body(event: DeploymentEvent) -> dict[str, Any]:
    description = (
        f"CodeDeploy {event.application}/{event.deployment_group} deployment "
        f"{event.deployment_id} {event.status}"
    )
    changelog = [event.description] if event.description else []
    if event.revision.url:
        changelog.append(event.revision.url)
    if event.console_url:
        changelog.append(event.console_url)
    deployment = {
        "revision": marker_revision(event)[:127],
        "description": description,
        "user": event.creator or "CodeDeploy",
        "changelog": "\n".join(changelog),
    }
    return {"deployment": deployment}


def _headers() -> dict[str, str]:
    if not settings.NEW_RELIC_API_KEY:
        raise ChannelError(
            "NEW_RELIC_API_KEY is not set: set it to a New Relic User API key "
            "and restart the service"
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
            retryable=True,
        ) from None
    # filter[name] matches substrings: keep the exact name only.
    matches = [a for a in applications if a.get("name") == name]
    if not matches:
        raise ChannelError(
            f"New Relic has no application named {name!r}: check the "
            "application name in this setup",
            response_status=response.status_code,
        )
    app_id = int(matches[0]["id"])
    with _app_ids_lock:
        _app_ids[cache_key] = (app_id, time.monotonic() + APP_ID_TTL)
    return app_id


def forget_application(name: str) -> None:
    with _app_ids_lock:
        _app_ids.pop((settings.NEW_RELIC_API_URL, name), None)


def send(event: DeploymentEvent, setup: NewRelicSetup) -> Delivery:
    app_id = application_id(setup.application_name)
    response = http.request(
        "POST",
        f"{settings.NEW_RELIC_API_URL}/v2/applications/{app_id}/deployments.json",
        what=WHAT,
        json=marker_body(event),
        headers=_headers(),
        expect_errors=True,
    )
    if response.status_code == 404:
        forget_application(setup.application_name)
        raise ChannelError(
            f"New Relic has no application with id {app_id} (was "
            f"{setup.application_name!r} deleted?); will look it up again",
            retryable=True,
            response_status=404,
        )
    if not response.ok:
        raise _auth_error(response) or http.error_for(response, what=WHAT)
    try:
        marker_id = str(response.json().get("deployment", {}).get("id", ""))
    except ValueError:
        marker_id = ""
    return Delivery(
        response_status=response.status_code,
        detail=f"marker {marker_id} on application {app_id}" if marker_id else "",
    )
