"""One deployment's page: its timeline with durations and, per setup, every attempt."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from channels.registry import label_for
from channels.secrets import redact
from notifier import storage
from notifier.events import TERMINAL_STATUSES, DeploymentEvent
from notifier.history.listing import has_control_characters
from notifier.history.setups import setup_name, setup_secrets
from notifier.history.sources import SourceLabel, SourceNames
from notifier.storage.base import Attempt, Delivery, DeliveryKey, DeploymentRecord, HistoryReader
from registrations.models import NotificationSetup, Registration
from registrations.teams import registration_editable


@dataclass(frozen=True)
class TimelineEntry:
    status: str
    seen_at: datetime
    lasted_seconds: float | None  # until the next change (or completion); None: still on


@dataclass(frozen=True)
class DeliveryView:
    key: DeliveryKey
    event: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    history: tuple[Attempt, ...]
    maybe_sent_since: datetime | None = None


@dataclass
class SetupDeliveries:
    setup_id: int
    kind: str
    label: str
    setup: NotificationSetup | None  # None: deleted since
    name: str = ""
    deliveries: list[DeliveryView] = field(default_factory=list)


@dataclass(frozen=True)
class DeploymentDetail:
    event: DeploymentEvent
    first_seen: datetime
    timeline: list[TimelineEntry]
    setups: list[SetupDeliveries]
    registration: Registration | None
    can_resend: bool
    source: SourceLabel | None = None  # the source watching its account and region, if any


def deployment_detail(*, deployment_id: str, user, reader: HistoryReader | None = None):
    """One deployment: its timeline with durations and, per setup, every attempt (redacted).

    Returns None when no deployment with this id has been seen.
    """
    if has_control_characters(deployment_id):  # no such id; PostgreSQL refuses a NUL
        return None
    record = (reader or storage.get_history_reader()).deployment_get(deployment_id)
    if record is None:
        return None
    source = SourceNames().find(account=record.event.account, region=record.event.region)
    registrations = Registration.objects.filter(
        codedeploy_application_name=record.event.application
    )
    registration = None
    if source is not None:  # the same application name may be registered in two sources
        registration = registrations.filter(source__name=source.name).first()
    registration = registration or registrations.first()
    return DeploymentDetail(
        event=record.event,
        first_seen=record.first_seen,
        timeline=_timeline(record),
        setups=_by_setup(record),
        registration=registration,
        can_resend=registration_editable(user=user, registration=registration),
        source=source,
    )


def _timeline(record: DeploymentRecord) -> list[TimelineEntry]:
    """Each status change and how long the deployment stayed in it."""
    entries = []
    changes = list(record.timeline)
    for index, change in enumerate(changes):
        if index + 1 < len(changes):
            until = changes[index + 1].seen_at
        elif change.status in TERMINAL_STATUSES:
            until = None
        else:
            until = timezone.now()
        lasted = (until - change.seen_at).total_seconds() if until else None
        entries.append(TimelineEntry(change.status, change.seen_at, lasted))
    return entries


def _by_setup(record: DeploymentRecord) -> list[SetupDeliveries]:
    """The deployment's deliveries grouped by setup, with every error redacted."""
    setups = NotificationSetup.objects.in_bulk(sorted({d.key.setup_id for d in record.deliveries}))
    secrets = setup_secrets(list(setups.values()))
    grouped: dict[int, SetupDeliveries] = {}
    for delivery in record.deliveries:
        setup_id = delivery.key.setup_id
        group = grouped.setdefault(
            setup_id,
            SetupDeliveries(
                setup_id,
                delivery.kind,
                label_for(delivery.kind),
                setups.get(setup_id),
                setup_name(setups[setup_id]) if setup_id in setups else "",
            ),
        )
        group.deliveries.append(_delivery_view(delivery, secrets))
    return list(grouped.values())


def _delivery_view(delivery: Delivery, secrets: list[str]) -> DeliveryView:
    return DeliveryView(
        key=delivery.key,
        event=delivery.key.event,
        state=delivery.state,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_error=redact(delivery.last_error, secrets),
        history=tuple(
            Attempt(
                a.number,
                a.state,
                a.started_at,
                a.latency_ms,
                a.response_status,
                redact(a.error, secrets),
                redact(a.detail, secrets),
            )
            for a in delivery.history
        ),
        maybe_sent_since=delivery.maybe_sent_since,
    )
