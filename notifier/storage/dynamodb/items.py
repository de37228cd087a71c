"""DynamoDB items <-> plain values and the store's dataclasses.

Numbers go in as Decimal (never float) and come out as int or float; times are stored as whole
microseconds since the epoch, exact and ordered as numbers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from django.utils import timezone

from notifier.events import DeploymentEvent
from notifier.storage.base import (
    Attempt,
    AttemptOutcome,
    Claim,
    Delivery,
    DeliveryKey,
    maybe_sent_since,
    sending_since,
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """A datetime as whole microseconds since the epoch: exact, and ordered as numbers."""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICROSECOND


def from_us(value: Any) -> datetime | None:
    """The datetime `to_us` made (None stays None)."""
    if value is None:
        return None
    return _EPOCH + timedelta(microseconds=int(value))


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> DynamoDB's typed attributes; None values are left out."""
    return {k: _serializer.serialize(_decimals(v)) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed attributes -> plain values (whole numbers as int)."""
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _decimals(value: Any) -> Any:
    """DynamoDB numbers must be Decimal, never float."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def delivery_sort_key(key: DeliveryKey) -> str:
    """The deliveries table's range key: one item per (event, setup) of a deployment."""
    return f"{key.event}#{key.setup_id}"


def attempt_item(number: int, outcome: AttemptOutcome) -> dict[str, Any]:
    """One entry of a delivery's `history` list (None values left out)."""
    attempt = {
        "number": number,
        "state": outcome.state,
        "started_us": to_us(outcome.started_at),
        "latency_ms": outcome.latency_ms,
        "response_status": outcome.response_status,
        "error": outcome.error,
        "error_code": outcome.error_code,
        "detail": outcome.detail,
    }
    return {k: v for k, v in attempt.items() if v is not None}


def claim_from(values: dict[str, Any], *, token: str, until: datetime, now: datetime) -> Claim:
    """The Claim a won claim's item (after the update) makes: an `in_flight_us` older than
    the claim means the previous attempt never recorded an outcome."""
    since = int(values["in_flight_us"])
    return Claim(
        key=DeliveryKey(values["deployment_id"], values["event"], int(values["setup_id"])),
        token=token,
        attempt=int(values["attempts"]),
        lease_until=until,
        in_flight_since=from_us(since) if since < to_us(now) else None,
    )


def _attempt_from(raw: dict[str, Any]) -> Attempt:
    return Attempt(
        number=int(raw["number"]),
        state=raw["state"],
        started_at=from_us(raw["started_us"]),
        latency_ms=int(raw["latency_ms"]),
        response_status=raw.get("response_status"),
        error=raw.get("error", ""),
        detail=raw.get("detail", ""),
        error_code=raw.get("error_code", ""),
    )


def delivery_from_item(values: dict[str, Any], *, with_history: bool = True) -> Delivery:
    """A deliveries-table item (as plain values) -> Delivery, its attempts only if asked."""
    history = tuple(_attempt_from(a) for a in values.get("history", [])) if with_history else ()
    now = timezone.now()
    return Delivery(
        key=DeliveryKey(values["deployment_id"], values["event"], int(values["setup_id"])),
        kind=values["kind"],
        state=values["state"],
        attempts=int(values.get("attempts", 0)),
        created_at=from_us(values["created_us"]),
        updated_at=from_us(values["updated_us"]),
        next_attempt_at=from_us(values.get("next_attempt_us")),
        last_error=values.get("last_error", ""),
        last_error_code=values.get("last_error_code", ""),
        event=DeploymentEvent.from_dict(json.loads(values["payload"])),
        history=history,
        maybe_sent_since=maybe_sent_since(
            state=values["state"],
            in_flight_since=from_us(values.get("in_flight_us")),
            claimed_at=from_us(values["updated_us"]),
            lease_until=from_us(values.get("lease_until_us")),
            now=now,
        ),
        sending_since=sending_since(
            state=values["state"],
            in_flight_since=from_us(values.get("in_flight_us")),
            lease_until=from_us(values.get("lease_until_us")),
            now=now,
        ),
    )


def create_sort(event: DeploymentEvent) -> str:
    """A deployment's sort key in the listing index: newest first when read backwards; a
    deployment without a create time sorts last."""
    created = to_us(event.create_time) if event.create_time else 0
    return f"{created:020d}#{event.deployment_id}"
