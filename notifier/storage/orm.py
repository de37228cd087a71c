"""The ORM store: SQLite or Postgres through Django models (notifier/models.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Prefetch, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifier import models as m
from notifier.events import DeploymentEvent, is_terminal
from notifier.storage.base import (
    DEFAULT_SOURCE,
    PENDING,
    AttemptOutcome,
    Claim,
    Delivery,
    DeliveryKey,
    DeploymentRecord,
    Page,
    PollState,
    PushQueueStats,
    StatusChange,
    claim_token,
)
from notifier.storage.codec import poll_state_from_dict, poll_state_to_dict
from notifier.storage.orm_rows import delivery_from_model, deployment_fields, guarded


class OrmStore:
    """Store on Django's ORM. `using` names the database alias (`default` or `audit`)."""

    # One connection per thread, and SQLite allows one writer: the poller stores one
    # deployment at a time.
    write_concurrency = 1

    def __init__(self, using: str = "default") -> None:
        self.using = using

    def _q(self, model):
        return model.objects.using(self.using)

    # --- poll state -------------------------------------------------------------------
    @guarded
    def poll_state_get(self, *, source: str = DEFAULT_SOURCE) -> PollState:
        row = self._q(m.PollStateRecord).filter(name=source).first()
        return poll_state_from_dict(row.data) if row else PollState()

    @guarded
    def poll_state_save(self, state: PollState, *, source: str = DEFAULT_SOURCE) -> None:
        self._q(m.PollStateRecord).update_or_create(
            name=source, defaults={"data": poll_state_to_dict(state)}
        )

    @guarded
    def lease_acquire(self, name: str, holder: str, *, seconds: float) -> bool:
        now = timezone.now()
        until = now + timedelta(seconds=seconds)
        taken = (
            self._q(m.Lease)
            .filter(name=name)
            .filter(Q(holder=holder) | Q(expires_at__lt=now))
            .update(holder=holder, expires_at=until)
        )
        if taken:
            return True
        try:
            with transaction.atomic(using=self.using):
                self._q(m.Lease).create(name=name, holder=holder, expires_at=until)
        except IntegrityError:
            return False
        return True

    @guarded
    def lease_release(self, name: str, holder: str) -> None:
        self._q(m.Lease).filter(name=name, holder=holder).delete()

    # --- push queues ------------------------------------------------------------------
    @guarded
    def push_stats_add(
        self,
        queue_url: str,
        *,
        at: datetime,
        received: int = 0,
        acted: int = 0,
        ignored: dict[str, int] | None = None,
        oldest_age_seconds: float | None = None,
        error: str = "",
    ) -> None:
        with transaction.atomic(using=self.using):
            row, _ = (
                self._q(m.PushQueueRecord).select_for_update().get_or_create(queue_url=queue_url)
            )
            row.received += received
            row.acted += acted
            for reason, count in (ignored or {}).items():
                row.ignored[reason] = row.ignored.get(reason, 0) + count
            row.last_receive = at
            if received:
                row.last_message_at = at
                if oldest_age_seconds is not None:
                    row.oldest_age_seconds = oldest_age_seconds
            row.last_error = error
            row.last_error_at = at if error else None
            row.save(using=self.using)

    @guarded
    def push_stats_list(self) -> list[PushQueueStats]:
        return [
            PushQueueStats(
                queue_url=row.queue_url,
                received=row.received,
                acted=row.acted,
                ignored={k: v for k, v in row.ignored.items() if v},
                last_receive=row.last_receive,
                last_message_at=row.last_message_at,
                oldest_age_seconds=row.oldest_age_seconds,
                last_error=row.last_error,
                last_error_at=row.last_error_at,
            )
            for row in self._q(m.PushQueueRecord).order_by("queue_url")
        ]

    # --- deployments and the ledger ---------------------------------------------------
    @guarded
    def deployment_save(self, event: DeploymentEvent, *, seen_at: datetime) -> None:
        fields = {**deployment_fields(event), "updated_at": seen_at}
        with transaction.atomic(using=self.using):
            row, created = (
                self._q(m.Deployment)
                .select_for_update()
                .get_or_create(
                    deployment_id=event.deployment_id, defaults={**fields, "first_seen": seen_at}
                )
            )
            if not created and is_terminal(row.status) and not is_terminal(event.status):
                return  # a late non-terminal state never replaces a terminal one
            if not created:
                for name, value in fields.items():
                    setattr(row, name, value)
                row.save(using=self.using)
            if not self._q(m.StatusChange).filter(deployment=row, status=event.status).exists():
                self._q(m.StatusChange).create(deployment=row, status=event.status, seen_at=seen_at)

    @guarded
    def delivery_create(self, key: DeliveryKey, *, kind: str, event: DeploymentEvent) -> bool:
        now = timezone.now()
        try:
            with transaction.atomic(using=self.using):
                self._q(m.Delivery).create(
                    deployment_id=key.deployment_id,
                    event=key.event,
                    setup_id=key.setup_id,
                    kind=kind,
                    state=PENDING,
                    payload=event.to_dict(),
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            return False
        return True

    def _key_filter(self, key: DeliveryKey):
        return self._q(m.Delivery).filter(
            deployment_id=key.deployment_id, event=key.event, setup_id=key.setup_id
        )

    @guarded
    def delivery_claim(
        self, key: DeliveryKey, *, holder: str, lease_seconds: float, now: datetime | None = None
    ) -> Claim | None:
        now = now or timezone.now()
        token = claim_token(holder=holder)
        until = now + timedelta(seconds=lease_seconds)
        # The compare-and-set: only a pending, due, unleased row is updated, and a database
        # UPDATE is atomic, so of any number of concurrent claimers exactly one sees 1 here.
        won = (
            self._key_filter(key)
            .filter(state=PENDING)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .update(
                lease_token=token,
                lease_until=until,
                attempts=F("attempts") + 1,
                updated_at=now,
                # Kept from an earlier claim that never recorded an outcome.
                in_flight_since=Coalesce(F("in_flight_since"), now),
            )
        )
        if won != 1:
            return None
        attempts, since = self._key_filter(key).values_list("attempts", "in_flight_since").get()
        return Claim(
            key=key,
            token=token,
            attempt=attempts,
            lease_until=until,
            in_flight_since=since if since < now else None,
        )

    @guarded
    def delivery_record(self, claim: Claim, outcome: AttemptOutcome) -> bool:
        now = timezone.now()
        with transaction.atomic(using=self.using):
            row = self._key_filter(claim.key).filter(lease_token=claim.token).first()
            if row is None:
                return False
            self._q(m.Delivery).filter(pk=row.pk, lease_token=claim.token).update(
                state=outcome.state,
                lease_token="",
                lease_until=None,
                next_attempt_at=outcome.next_attempt_at,
                last_error=outcome.error,
                last_error_code=outcome.error_code,
                in_flight_since=None,
                updated_at=now,
            )
            self._q(m.DeliveryAttempt).create(
                delivery_id=row.pk,
                number=claim.attempt,
                state=outcome.state,
                started_at=outcome.started_at,
                latency_ms=outcome.latency_ms,
                response_status=outcome.response_status,
                error=outcome.error,
                error_code=outcome.error_code,
                detail=outcome.detail,
            )
        return True

    @guarded
    def delivery_release(self, claim: Claim) -> bool:
        return bool(
            self._key_filter(claim.key)
            .filter(state=PENDING, lease_token=claim.token)
            .update(
                lease_token="",
                lease_until=None,
                attempts=F("attempts") - 1,
                updated_at=timezone.now(),
                in_flight_since=claim.in_flight_since,  # a takeover keeps the earlier start
            )
        )

    @guarded
    def deliveries_due(self, *, now: datetime | None = None, limit: int = 100) -> list[DeliveryKey]:
        now = now or timezone.now()
        rows = (
            self._q(m.Delivery)
            .filter(state=PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .order_by("created_at", "id")
            .values_list("deployment_id", "event", "setup_id")[:limit]
        )
        return [DeliveryKey(*row) for row in rows]

    @guarded
    def delivery_get(self, key: DeliveryKey) -> Delivery | None:
        row = self._key_filter(key).prefetch_related("history").first()
        return delivery_from_model(row, with_history=True) if row else None

    @guarded
    def delivery_requeue(self, key: DeliveryKey) -> bool:
        now = timezone.now()
        return bool(
            self._key_filter(key)
            .exclude(state=PENDING)
            .update(
                state=PENDING, next_attempt_at=now, lease_token="", lease_until=None, updated_at=now
            )
        )

    # --- history ----------------------------------------------------------------------
    def _record(self, row: m.Deployment, *, detail: bool) -> DeploymentRecord:
        return DeploymentRecord(
            event=DeploymentEvent.from_dict(row.event),
            first_seen=row.first_seen,
            updated_at=row.updated_at,
            timeline=tuple(StatusChange(c.status, c.seen_at) for c in row.timeline.all())
            if detail
            else (),
            deliveries=tuple(
                delivery_from_model(d, with_history=detail) for d in row.deliveries.all()
            ),
        )

    @guarded
    def deployments_page(
        self, *, application: str | None = None, page: int = 1, per_page: int = 50
    ) -> Page:
        page = max(1, page)
        rows = self._q(m.Deployment).order_by(
            F("create_time").desc(nulls_last=True), "deployment_id"
        )
        if application:
            rows = rows.filter(application=application)
        total = rows.count()
        start = (page - 1) * per_page
        chunk = list(
            rows.prefetch_related(
                Prefetch("deliveries", queryset=self._q(m.Delivery).order_by("id"))
            )[start : start + per_page + 1]
        )
        return Page(
            items=[self._record(r, detail=False) for r in chunk[:per_page]],
            number=page,
            has_next=len(chunk) > per_page,
            total=total,
        )

    @guarded
    def deployment_get(self, deployment_id: str) -> DeploymentRecord | None:
        row = (
            self._q(m.Deployment)
            .filter(deployment_id=deployment_id)
            .prefetch_related(
                "timeline",
                Prefetch(
                    "deliveries",
                    queryset=self._q(m.Delivery).order_by("id").prefetch_related("history"),
                ),
            )
            .first()
        )
        return self._record(row, detail=True) if row else None
