"""Previews and test sends: what a setup's message looks like, and whether it gets through.

Neither touches the delivery ledger: a test send goes through notifier.dispatch.send_once,
the same call real deliveries use, and its result is only reported back.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from channels.messages import render, sample_event
from channels.registry import api_key, label_for, module_for
from notifier.dispatch import send_once
from notifier.events import DeploymentEvent, Event
from notifier.storage import get_store
from registrations.models import NotificationSetup, Registration, split_groups

log = logging.getLogger(__name__)
TEST_DESCRIPTION = "Test notification from CodeDeploy Notifier: no deployment happened"
# The event a preview or a test shows, among those the setup hears.
_PREFERENCE = (Event.FAILED, Event.SUCCEEDED, Event.STOPPED, Event.READY, Event.STARTED)


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


def test_event(setup: NotificationSetup) -> DeploymentEvent:
    registration = setup.registration
    groups = split_groups(setup.deployment_groups) or split_groups(registration.deployment_groups)
    event = sample_event(
        _event_for(setup),
        application=registration.codedeploy_application_name,
        deployment_group=groups[0] if groups else "",
    )
    return replace(event, description=TEST_DESCRIPTION)


@dataclass(frozen=True)
class TestResult:
    setup_id: int
    kind: str
    label: str
    event: str
    delivered: bool
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
    *, registration: Registration, setup_id: int | None = None
) -> list[TestResult]:
    """Send a sample event through every setup of the registration (or the one named), even
    disabled ones, and report each result. Nothing is written to the delivery ledger."""
    setups = registration.setups.all()
    if setup_id is not None:
        setups = setups.filter(pk=setup_id)
    results = []
    for setup in setups:
        event = test_event(setup)
        result = send_once(event, setup)
        error = result.error
        results.append(
            TestResult(
                setup_id=setup.pk,
                kind=setup.kind,
                label=label_for(setup.kind),
                event=event.event.value,
                delivered=error is None,
                detail=result.sent.detail if result.sent else "",
                error=error.message if error else "",
                retryable=bool(error and error.retryable),
                error_code=error.code.value if error else "",
                latency_ms=result.latency_ms,
            )
        )
    return results
