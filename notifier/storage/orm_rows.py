"""notifier.models rows to and from the Store's dataclasses, for the ORM store and the audit
mirror; and the guard that turns database failures into StorageError."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, IntegrityError
from django.utils import timezone

from notifier import models as m
from notifier.events import DeploymentEvent
from notifier.storage.base import (
    Attempt,
    Delivery,
    DeliveryKey,
    StorageError,
    maybe_sent_since,
    sending_since,
)


def deployment_fields(event: DeploymentEvent) -> dict[str, Any]:
    """The notifier.models.Deployment columns that come from a DeploymentEvent."""
    return {
        "application": event.application,
        "deployment_group": event.deployment_group,
        "status": event.status,
        "creator": event.creator,
        "deployed_by": event.started_by[:200],
        "revision": event.revision.summary[:512],
        "account": event.account[:12],
        "region": event.region[:32],
        "create_time": event.create_time,
        "start_time": event.start_time,
        "complete_time": event.complete_time,
        "event": event.to_dict(),
    }


def delivery_from_model(row: m.Delivery, *, with_history: bool = False) -> Delivery:
    history: tuple[Attempt, ...] = ()
    if with_history:
        history = tuple(
            Attempt(
                number=a.number,
                state=a.state,
                started_at=a.started_at,
                latency_ms=a.latency_ms,
                response_status=a.response_status,
                error=a.error,
                detail=a.detail,
                error_code=a.error_code,
            )
            for a in row.history.all()
        )
    now = timezone.now()
    return Delivery(
        key=DeliveryKey(row.deployment_id, row.event, row.setup_id),
        kind=row.kind,
        state=row.state,
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        last_error_code=row.last_error_code,
        event=DeploymentEvent.from_dict(row.payload),
        history=history,
        maybe_sent_since=maybe_sent_since(
            state=row.state,
            in_flight_since=row.in_flight_since,
            claimed_at=row.updated_at,
            lease_until=row.lease_until,
            now=now,
        ),
        sending_since=sending_since(
            state=row.state,
            in_flight_since=row.in_flight_since,
            lease_until=row.lease_until,
            now=now,
        ),
    )


def guarded(method):
    """Turn database failures into StorageError, so callers handle one exception type."""

    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except IntegrityError:
            raise
        except DatabaseError as exc:
            raise StorageError(f"the database refused {method.__name__}: {exc}") from exc

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper
