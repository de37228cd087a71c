"""Previews and test sends: what a setup's message looks like, and whether it gets through.

Neither touches the delivery ledger: a test send goes through notifier.dispatch.send_once,
the same call real deliveries use, and its result is only reported back. A test send is
marked as one wherever the channel's provider lets a machine read it (channels.base
SendContext.test), names one of the application's real deployment groups, and sends the
event the person chose (default: succeeded).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from botocore.config import Config

from channels.messages import render, sample_event
from channels.registry import api_key, label_for, module_for
from notifier.dispatch import send_once
from notifier.events import DeploymentEvent, Event
from notifier.sources import boto3_session_for
from notifier.storage import get_store
from registrations.models import NotificationSetup, Registration, split_groups

log = logging.getLogger(__name__)
TEST_DESCRIPTION = "Test notification from CodeDeploy Notifier: no deployment happened"
# The event a preview shows, among those the setup hears.
_PREFERENCE = (Event.FAILED, Event.SUCCEEDED, Event.STOPPED, Event.READY, Event.STARTED)
# The event a test sends unless the person chose one: succeeded where the setup hears it (a
# failure, even a sample, must not look like one), else the first it hears of these.
_TEST_PREFERENCE = (Event.SUCCEEDED, Event.STARTED, Event.READY, Event.STOPPED, Event.FAILED)
FALLBACK_GROUP = "test-group"  # when none of the application's groups is known
# Looking up the groups runs inside a web request: a source that does not answer must not
# hold it long.
LOOKUP_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=5
)


def _event_for(setup: NotificationSetup) -> Event:
    heard = set(setup.events or [])
    for event in _PREFERENCE:
        if event.value in heard:
            return event
    return Event.SUCCEEDED


def message_parts(event: DeploymentEvent, setup: NotificationSetup) -> dict[str, str]:
    """The rendered parts of the message this setup would send for `event`."""
    module = module_for(setup.kind)
    if hasattr(module, "preview"):
        return module.preview(event, setup)
    parts = getattr(module, "TEMPLATE_PARTS", ("subject", "body"))
    if not parts:
        return {"body": json.dumps(event.to_dict(), indent=2)}
    return {part: render(setup.kind, part, event, setup) for part in parts}


@dataclass(frozen=True)
class Preview:
    title: str
    parts: dict[str, str]


def latest_deployment(application: str) -> DeploymentEvent | None:
    try:
        page = get_store().deployments_page(application=application, per_page=1)
    except Exception as exc:  # a preview must not fail because history is unreachable
        log.info("no past deployment for the preview: %s", exc)
        return None
    return page.items[0].event if page.items else None


def setup_preview(*, setup: NotificationSetup) -> list[Preview]:
    """The message for the application's latest real deployment, if any, and for a sample."""
    setup = setup.typed()
    previews = []
    real = latest_deployment(setup.registration.codedeploy_application_name)
    if real is not None:
        title = f"Your latest deployment, {real.deployment_id} ({real.event.value})"
        previews.append(Preview(title, message_parts(real, setup)))
    event = _event_for(setup)
    sample = sample_event(event, application=setup.registration.codedeploy_application_name)
    previews.append(Preview(f"A sample {event.value} deployment", message_parts(sample, setup)))
    return previews


def test_event_kind(setup: NotificationSetup, chosen: Event | str | None = None) -> Event:
    """The event a test sends: the one chosen, else succeeded where the setup hears it."""
    if chosen:
        return Event(chosen)
    heard = set(setup.events or [])
    return next((e for e in _TEST_PREFERENCE if e.value in heard), Event.SUCCEEDED)


def history_groups(application: str) -> list[str]:
    """The deployment groups of the application's latest deployments in the history."""
    try:
        page = get_store().deployments_page(application=application, per_page=20)
    except Exception as exc:  # a test must not fail because history is unreachable
        log.info("no past deployment to take a group from: %s", exc)
        return []
    return list(
        dict.fromkeys(r.event.deployment_group for r in page.items if r.event.deployment_group)
    )


def codedeploy_groups(registration: Registration) -> list[str]:
    """The application's deployment groups in CodeDeploy (ListDeploymentGroups, through the
    registration's source), or [] when they cannot be listed."""
    try:
        session = boto3_session_for(registration.source.config())
        client = session.client("codedeploy", config=LOOKUP_CONFIG)
        answer = client.list_deployment_groups(
            applicationName=registration.codedeploy_application_name
        )
    except Exception as exc:  # no access, no such application, unreachable: fall back
        log.info("could not list the deployment groups of %s: %s", registration, exc)
        return []
    return list(answer.get("deploymentGroups") or [])


def application_group(registration: Registration) -> str:
    """A real deployment group of the application for a test to name: the registration's
    group filter, else the groups in its history, else CodeDeploy's list, else test-group."""
    name = registration.codedeploy_application_name
    groups = (
        split_groups(registration.deployment_groups)
        or history_groups(name)
        or codedeploy_groups(registration)
    )
    return groups[0] if groups else FALLBACK_GROUP


def test_event(
    setup: NotificationSetup,
    *,
    event: Event | str | None = None,
    group: Callable[[], str] | None = None,
) -> DeploymentEvent:
    """The sample a test sends through `setup`: the chosen event (see test_event_kind), in
    the setup's own group filter or else `group()` (default: application_group)."""
    registration = setup.registration
    own = split_groups(setup.deployment_groups)
    sample = sample_event(
        test_event_kind(setup, event),
        application=registration.codedeploy_application_name,
        deployment_group=own[0] if own else (group or (lambda: application_group(registration)))(),
    )
    return replace(sample, description=TEST_DESCRIPTION)


@dataclass(frozen=True)
class TestResult:
    setup_id: int
    kind: str
    label: str
    event: str
    delivered: bool
    deployment_group: str = ""
    detail: str = ""
    error: str = ""
    retryable: bool = False
    latency_ms: int = 0
    error_code: str = ""  # a channels.base.ErrorCode value when not delivered

    __test__ = False  # not a pytest test class

    def as_dict(self) -> dict[str, Any]:
        data = {
            "setup": self.setup_id,
            "kind": api_key(self.kind),
            "label": self.label,
            "event": self.event,
            "deployment_group": self.deployment_group,
            "delivered": self.delivered,
            "latency_ms": self.latency_ms,
        }
        if self.delivered:
            data["detail"] = self.detail
        else:
            data["error"] = self.error
            data["retryable"] = self.retryable
            data["error_code"] = self.error_code
        return data

    def sentence(self) -> str:
        if self.delivered:
            return f"{self.label} (setup {self.setup_id}): delivered" + (
                f" - {self.detail}" if self.detail else ""
            )
        again = " (a temporary failure: try again later)" if self.retryable else ""
        return f"{self.label} (setup {self.setup_id}): not delivered - {self.error}{again}"


def registration_test_send(
    *, registration: Registration, setup_id: int | None = None, event: str | None = None
) -> list[TestResult]:
    """Send a sample event (`event`, default: see test_event_kind) through every setup of the
    registration (or the one named), even disabled ones, and report each result. Nothing is
    written to the delivery ledger."""
    setups = registration.setups.all()
    if setup_id is not None:
        setups = setups.filter(pk=setup_id)
    results = []
    found: list[str] = []

    def group() -> str:  # looked up once, and only when a setup has no group of its own
        if not found:
            found.append(application_group(registration))
        return found[0]

    for setup in setups:
        sample = test_event(setup, event=event, group=group)
        result = send_once(sample, setup)  # no delivery context: a test send (SendContext.test)
        error = result.error
        results.append(
            TestResult(
                setup_id=setup.pk,
                kind=setup.kind,
                label=label_for(setup.kind),
                event=sample.event.value,
                deployment_group=sample.deployment_group,
                delivered=error is None,
                detail=result.sent.detail if result.sent else "",
                error=error.message if error else "",
                retryable=bool(error and error.retryable),
                error_code=error.code.value if error else "",
                latency_ms=result.latency_ms,
            )
        )
    return results
