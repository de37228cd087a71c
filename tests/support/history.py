"""Seed deployments, deliveries and attempts through the Store API, as the engine would."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.utils import timezone

from channels.newrelic import NewRelicSetup
from notifier.events import DeploymentEvent, Event, InstanceCounts, Revision, Rollback
from notifier.storage.base import AttemptOutcome, DeliveryKey, Store
from registrations.models import Registration

PASSWORD = "a-long-test-password-1"


def user(name: str, *, team: Group | None = None, staff: bool = False) -> User:
    account = User.objects.create_user(name, f"{name}@example.com", PASSWORD, is_staff=staff)
    if team is not None:
        account.groups.add(team)
    return account


def register(application: str, *, team: Group | None = None, nr_apps=("web",)):
    registration = Registration.objects.create(codedeploy_application_name=application, team=team)
    setups = [
        NewRelicSetup.objects.create(
            registration=registration,
            application_name=name,
            events=["started", "succeeded", "failed"],
        )
        for name in nr_apps
    ]
    return registration, setups


def deployment_event(
    deployment_id: str,
    application: str,
    *,
    status: str = "Succeeded",
    group: str = "production",
    created: datetime | None = None,
    seconds: int = 95,
    creator: str = "user",
    commit: str = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6",
    **extra,
) -> DeploymentEvent:
    created = created or timezone.now() - timedelta(minutes=10)
    terminal = status in ("Succeeded", "Failed", "Stopped")
    event = {"Succeeded": Event.SUCCEEDED, "Failed": Event.FAILED, "Stopped": Event.STOPPED}
    return DeploymentEvent(
        deployment_id=deployment_id,
        application=application,
        deployment_group=group,
        status=status,
        event=event.get(status, Event.STARTED),
        creator=creator,
        revision=Revision(
            type="GitHub",
            summary=commit[:12],
            url=f"https://github.com/acme/{application}/commit/{commit}",
            repository=f"acme/{application}",
            commit_id=commit,
        ),
        create_time=created,
        start_time=created + timedelta(seconds=2),
        complete_time=created + timedelta(seconds=2 + seconds) if terminal else None,
        instances=InstanceCounts(
            succeeded=2 if status == "Succeeded" else 1, failed=int(status == "Failed")
        ),
        region="us-east-1",
        console_url=f"https://console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment_id}?region=us-east-1",
        **extra,
    )


def seed_deployment(store: Store, event: DeploymentEvent, *, statuses=("InProgress",)) -> None:
    """Save the deployment as the poller would: each earlier status, then the final one."""
    seen = event.create_time or timezone.now()
    for status in statuses:
        store.deployment_save(
            dataclasses.replace(event, status=status, complete_time=None), seen_at=seen
        )
        seen += timedelta(seconds=30)
    store.deployment_save(event, seen_at=seen)


def seed_delivery(
    store: Store,
    event: DeploymentEvent,
    setup,
    *,
    outcomes: list[AttemptOutcome] = (),
    event_name: str | None = None,
) -> DeliveryKey:
    """Create a delivery and record each outcome as an attempt (claim, then record)."""
    key = DeliveryKey(event.deployment_id, event_name or event.event.value, setup.pk)
    store.delivery_create(key, kind=setup.kind, event=event)
    for outcome in outcomes:
        claim = store.delivery_claim(
            key, holder="seed", lease_seconds=30, now=timezone.now() + timedelta(days=1)
        )
        assert claim is not None, f"could not claim {key}"
        store.delivery_record(claim, outcome)
    return key


def delivered(latency_ms: int = 120) -> AttemptOutcome:
    return AttemptOutcome(
        state="delivered",
        started_at=timezone.now(),
        latency_ms=latency_ms,
        response_status=201,
        detail="marker 1 on application 7",
    )


def failed(
    error: str = "New Relic has no application named 'web': check the application name in "
    "this setup",
    status: int = 200,
    code: str = "not_found",
) -> AttemptOutcome:
    return AttemptOutcome(
        state="failed",
        started_at=timezone.now(),
        latency_ms=80,
        response_status=status,
        error=error,
        error_code=code,
    )


__all__ = [
    "PASSWORD",
    "Rollback",
    "delivered",
    "deployment_event",
    "failed",
    "register",
    "seed_delivery",
    "seed_deployment",
    "user",
]
