"""The audit mirror: DynamoDB is the ledger, a Postgres copy serves history.

`MirrorStore` writes DynamoDB first and then the same Django models (notifier/models.py) in
the `audit` database. DynamoDB alone decides what is sent: the mirror never takes part in a
claim, and a mirror write that fails is logged and skipped, so it can neither block nor
duplicate a notification. `python manage.py audit_backfill` (`mirror_backfill` below) later
copies whatever the mirror missed. History reads come from the mirror, which can filter and
count what DynamoDB cannot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count

from notifier import models as m
from notifier.events import DeploymentEvent
from notifier.storage.base import (
    DEFAULT_SOURCE,
    AttemptOutcome,
    Claim,
    Delivery,
    DeliveryKey,
    DeploymentRecord,
    Page,
    PollState,
    PushQueueStats,
    Store,
)
from notifier.storage.orm import OrmStore, deployment_fields

log = logging.getLogger(__name__)

BACKFILL_HINT = "run `python manage.py audit_backfill` to copy it"


class MirrorGap(Exception):
    """The mirror lacks a row another row hangs on (a deployment missed earlier)."""


def delivery_copy(delivery: Delivery, *, using: str) -> None:
    """Upsert one delivery and the attempts the mirror lacks. Raises MirrorGap when the
    mirror has not got the delivery's deployment."""
    key = delivery.key
    with transaction.atomic(using=using):
        if not m.Deployment.objects.using(using).filter(pk=key.deployment_id).exists():
            raise MirrorGap(f"the mirror has no deployment {key.deployment_id}")
        row, _ = m.Delivery.objects.using(using).update_or_create(
            deployment_id=key.deployment_id,
            event=key.event,
            setup_id=key.setup_id,
            defaults={
                "kind": delivery.kind,
                "state": delivery.state,
                "attempts": delivery.attempts,
                "lease_token": "",
                "lease_until": None,
                "next_attempt_at": delivery.next_attempt_at,
                "last_error": delivery.last_error,
                "last_error_code": delivery.last_error_code,
                # No lease in the mirror: a time here reads as "maybe sent" until the outcome.
                "in_flight_since": delivery.maybe_sent_since,
                "payload": delivery.event.to_dict(),
                "created_at": delivery.created_at,
                "updated_at": delivery.updated_at,
            },
        )
        have = set(
            m.DeliveryAttempt.objects.using(using)
            .filter(delivery=row)
            .values_list("number", flat=True)
        )
        m.DeliveryAttempt.objects.using(using).bulk_create(
            m.DeliveryAttempt(
                delivery=row,
                number=a.number,
                state=a.state,
                started_at=a.started_at,
                latency_ms=a.latency_ms,
                response_status=a.response_status,
                error=a.error,
                error_code=a.error_code,
                detail=a.detail,
            )
            for a in delivery.history
            if a.number not in have
        )


def record_copy(record: DeploymentRecord, *, using: str) -> None:
    """Upsert one deployment with its timeline and every delivery."""
    event = record.event
    with transaction.atomic(using=using):
        m.Deployment.objects.using(using).update_or_create(
            deployment_id=event.deployment_id,
            defaults={
                **deployment_fields(event),
                "first_seen": record.first_seen,
                "updated_at": record.updated_at,
            },
        )
        for change in record.timeline:
            m.StatusChange.objects.using(using).get_or_create(
                deployment_id=event.deployment_id,
                status=change.status,
                defaults={"seen_at": change.seen_at},
            )
        for delivery in record.deliveries:
            delivery_copy(delivery, using=using)


class MirrorStore:
    """Store that writes `primary` (DynamoDB) first, then `mirror` (an OrmStore on the audit
    database); the ledger's decisions and reads come from the primary, history from the
    mirror. It stores as many deployments at once as its primary does."""

    def __init__(self, *, primary: Store, mirror: OrmStore) -> None:
        self.write_concurrency = primary.write_concurrency
        self.primary = primary
        self.mirror = mirror
        self.using = mirror.using

    def _mirrored(self, what: str, write: Callable[[], Any]) -> None:
        """Run a mirror write; a failure is logged, never raised."""
        try:
            write()
        except Exception as exc:
            log.warning("the audit mirror missed %s (%s); %s", what, exc, BACKFILL_HINT)

    def _copy_delivery(self, key: DeliveryKey) -> None:
        delivery = self.primary.delivery_get(key)
        if delivery is not None:
            delivery_copy(delivery, using=self.using)

    # --- poll state: DynamoDB only ----------------------------------------------------
    def poll_state_get(self, *, source: str = DEFAULT_SOURCE) -> PollState:
        return self.primary.poll_state_get(source=source)

    def poll_state_save(self, state: PollState, *, source: str = DEFAULT_SOURCE) -> None:
        self.primary.poll_state_save(state, source=source)

    def lease_acquire(self, name: str, holder: str, *, seconds: float) -> bool:
        return self.primary.lease_acquire(name, holder, seconds=seconds)

    def lease_release(self, name: str, holder: str) -> None:
        self.primary.lease_release(name, holder)

    def push_stats_add(self, queue_url: str, **counts: Any) -> None:
        self.primary.push_stats_add(queue_url, **counts)

    def push_stats_list(self) -> list[PushQueueStats]:
        return self.primary.push_stats_list()

    # --- deployments and the ledger: DynamoDB, then the mirror ------------------------
    def deployment_save(self, event: DeploymentEvent, *, seen_at: datetime) -> None:
        self.primary.deployment_save(event, seen_at=seen_at)
        self._mirrored(
            f"deployment {event.deployment_id} {event.status}",
            lambda: self.mirror.deployment_save(event, seen_at=seen_at),
        )

    def delivery_create(self, key: DeliveryKey, *, kind: str, event: DeploymentEvent) -> bool:
        created = self.primary.delivery_create(key, kind=kind, event=event)
        if created:
            self._mirrored(
                f"new delivery {key}",
                lambda: self.mirror.delivery_create(key, kind=kind, event=event),
            )
        return created

    def delivery_claim(
        self, key: DeliveryKey, *, holder: str, lease_seconds: float, now: datetime | None = None
    ) -> Claim | None:
        # Claims are the ledger's own business: the mirror learns the outcome, not the lease,
        # except that a takeover of an attempt in flight shows as "maybe sent" in history.
        claim = self.primary.delivery_claim(
            key, holder=holder, lease_seconds=lease_seconds, now=now
        )
        if claim is not None and claim.in_flight_since is not None:
            self._mirrored(f"maybe sent delivery {key}", lambda: self._copy_delivery(key))
        return claim

    def delivery_record(self, claim: Claim, outcome: AttemptOutcome) -> bool:
        recorded = self.primary.delivery_record(claim, outcome)
        if recorded:
            self._mirrored(
                f"attempt {claim.attempt} of delivery {claim.key}",
                lambda: self._copy_delivery(claim.key),
            )
        return recorded

    def delivery_release(self, claim: Claim) -> bool:
        # Like the claim, the lease is the ledger's own business: the mirror never saw it.
        return self.primary.delivery_release(claim)

    def deliveries_due(self, *, now: datetime | None = None, limit: int = 100) -> list[DeliveryKey]:
        return self.primary.deliveries_due(now=now, limit=limit)

    def delivery_get(self, key: DeliveryKey) -> Delivery | None:
        return self.primary.delivery_get(key)

    def delivery_requeue(self, key: DeliveryKey) -> bool:
        requeued = self.primary.delivery_requeue(key)
        if requeued:
            self._mirrored(f"resend of delivery {key}", lambda: self._copy_delivery(key))
        return requeued

    # --- history: the mirror ----------------------------------------------------------
    def deployments_page(
        self, *, application: str | None = None, page: int = 1, per_page: int = 50
    ) -> Page:
        return self.mirror.deployments_page(application=application, page=page, per_page=per_page)

    def deployment_get(self, deployment_id: str) -> DeploymentRecord | None:
        return self.mirror.deployment_get(deployment_id)


@dataclass
class BackfillReport:
    checked: int = 0
    deployments_copied: int = 0
    deliveries_copied: int = 0

    def line(self) -> str:
        if not self.deployments_copied:
            return f"checked {self.checked} deployment(s); the audit mirror missed nothing"
        return (
            f"checked {self.checked} deployment(s); copied {self.deployments_copied} "
            f"deployment(s) with {self.deliveries_copied} delivery(ies) the audit mirror "
            "had missed or held out of date"
        )


def _stale(record: DeploymentRecord, *, using: str) -> int | None:
    """How many of the record's deliveries the mirror lacks or holds out of date; None when
    the mirror has nothing (or an older state) of the deployment itself."""
    deployment_id = record.event.deployment_id
    row = m.Deployment.objects.using(using).filter(pk=deployment_id).first()
    if row is None or row.updated_at < record.updated_at:
        return None
    have = {
        (d.event, d.setup_id): (d.updated_at, d.attempts_recorded)
        for d in m.Delivery.objects.using(using)
        .filter(deployment_id=deployment_id)
        .annotate(attempts_recorded=Count("history"))
    }
    missed = 0
    for delivery in record.deliveries:
        mirrored = have.get((delivery.key.event, delivery.key.setup_id))
        if (
            mirrored is None
            or mirrored[0] < delivery.updated_at
            or mirrored[1] < len(delivery.history)
        ):
            missed += 1
    return missed


def mirror_backfill(*, records: Iterable[DeploymentRecord], using: str = "audit") -> BackfillReport:
    """Copy into the mirror every deployment and delivery it lacks or holds out of date."""
    report = BackfillReport()
    for record in records:
        report.checked += 1
        missed = _stale(record, using=using)
        if missed == 0:
            continue
        record_copy(record, using=using)
        report.deployments_copied += 1
        report.deliveries_copied += len(record.deliveries) if missed is None else missed
    return report
