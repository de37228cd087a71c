"""The engine as a library, for another Django project.

Add the three apps to INSTALLED_APPS, with django.contrib.auth and contenttypes (a
registration's team is a Group)::

    "notifier.apps.NotifierConfig",
    "registrations.apps.RegistrationsConfig",
    "channels.apps.NotificationChannelsConfig",   # app label notification_channels

define the engine's settings (notifier.defaults.ENGINE_SETTINGS lists each one with its
default: `globals().update(ENGINE_SETTINGS)` in a settings module, then override), run
`manage.py migrate`, and then:

    registration = application_register(
        codedeploy_application_name="storefront",
        setups=[("webhook", {"url": "https://hooks.example.com/deploy"})],
    )
    report = poll_cycle_run()          # one poll cycle, then the notifications it queued
    result = event_send(event=event, setup=registration.setups.get())

AWS access uses boto3's own chain (AWS_REGION, credentials, AWS_ENDPOINT_URL).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group

from notifier import codedeploy, targets
from notifier.dispatch import SendResult, delivery_send, holder_name, send_once
from notifier.events import DeploymentEvent
from notifier.poller import CycleReport, deployment_poll
from notifier.storage import get_store
from notifier.storage.base import Store
from registrations.models import NotificationSetup, Registration
from registrations.services import SetupData, registration_create


def application_register(
    *,
    codedeploy_application_name: str,
    setups: list[SetupData],
    team: Group | None = None,
    enabled: bool = True,
    deployment_groups: str = "",
) -> Registration:
    """Watch a CodeDeploy application and notify through `setups`: (kind, fields) pairs,
    e.g. ("webhook", {"url": ...}); kinds are channels.registry.KINDS. Raises
    registrations.services.SetupsInvalid (per-setup errors) and saves nothing when a setup
    is invalid."""
    return registration_create(
        codedeploy_application_name=codedeploy_application_name,
        setups=setups,
        team=team,
        enabled=enabled,
        deployment_groups=deployment_groups,
    )


def poll_cycle_run(
    *, store: Store | None = None, client: Any = None, targets_client: Any = None
) -> CycleReport:
    """Run one poll cycle, then send every notification that is due, in this thread; a
    failed deployment's notifications say where it broke (looked up with `targets_client`,
    default: one of boto3's chain, see notifier.targets).

    Exactly once still holds: run it from as many processes as you like."""
    store = store or get_store()
    client = client or codedeploy.make_client()
    targets_client = targets_client or codedeploy.make_client(config=targets.TARGETS_CONFIG)
    report = deployment_poll(store=store, client=client, targets_client=targets_client)
    holder = holder_name()
    for key in store.deliveries_due():
        delivery_send(key, store=store, holder=holder)
    return report


def event_send(*, event: DeploymentEvent, setup: NotificationSetup) -> SendResult:
    """Send one event through one setup, once, outside the delivery ledger: the result says
    what the provider answered (`sent`) or why it failed (`error`)."""
    return send_once(event, setup)
