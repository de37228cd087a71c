"""The DynamoDB store: poll state, the delivery ledger and history in four tables.

The table design (keys, indexes, item shapes, TTL, capacity mode) is in docs/storage.md;
`TABLES` below is its executable form, used by `manage.py dynamodb_create_tables`.

Exactly-once rests on conditional writes: a claim is an UpdateItem whose condition only a
pending, due, unleased item meets, and a record is an UpdateItem conditioned on the claim's
token, so of any number of concurrent claimers exactly one wins and a stale holder's late
record is refused. Throttling and transient errors are retried by botocore's adaptive mode
(backoff plus client-side rate limiting); whatever still fails becomes StorageError.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.utils import timezone

from notifier.codedeploy import AWS_CONFIG
from notifier.events import STATUSES, DeploymentEvent, is_terminal
from notifier.storage.base import (
    FINAL_STATES,
    PENDING,
    Attempt,
    AttemptOutcome,
    Claim,
    Delivery,
    DeliveryKey,
    DeploymentRecord,
    Page,
    PollState,
    StatusChange,
    StorageError,
)
from notifier.storage.codec import poll_state_from_dict, poll_state_to_dict

log = logging.getLogger(__name__)

# Table suffixes; the full name is NOTIFIER_DYNAMODB_TABLE_PREFIX + suffix.
# (The registrations table, NOTIFIER_DYNAMODB_TABLE_PREFIX + "registrations", belongs to the
# registrations app: registrations/storage.py.)
STATE, DEPLOYMENTS, DELIVERIES = ("state", "deployments", "deliveries")
NEWEST_INDEX = "newest"  # deployments: every deployment, newest first
APPLICATION_INDEX = "by-application"  # deployments of one application, newest first
DUE_INDEX = "due"  # deliveries: a sparse index of the pending ones, oldest first
LISTING = "deployments"  # the one partition of the `newest` index
DUE = "pending"  # the one partition of the `due` index; absent once a delivery is final
POLL_STATE_KEY = "poll#default"
TTL_ATTRIBUTE = "expires_at"

_S = {"AttributeType": "S"}


def _gsi(name: str, hash_key: str, range_key: str, projection: dict[str, Any]) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "Projection": projection,
    }


# suffix -> CreateTable arguments (without the name) and whether it has a TTL attribute.
TABLES: dict[str, dict[str, Any]] = {
    STATE: {
        "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "name", **_S}],
    },
    DEPLOYMENTS: {
        "KeySchema": [{"AttributeName": "deployment_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": "deployment_id", **_S},
            {"AttributeName": "listing", **_S},
            {"AttributeName": "application", **_S},
            {"AttributeName": "create_sort", **_S},
        ],
        "GlobalSecondaryIndexes": [
            _gsi(NEWEST_INDEX, "listing", "create_sort", {"ProjectionType": "ALL"}),
            _gsi(APPLICATION_INDEX, "application", "create_sort", {"ProjectionType": "ALL"}),
        ],
    },
    DELIVERIES: {
        "KeySchema": [
            {"AttributeName": "deployment_id", "KeyType": "HASH"},
            {"AttributeName": "delivery", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "deployment_id", **_S},
            {"AttributeName": "delivery", **_S},
            {"AttributeName": "due", **_S},
            {"AttributeName": "due_sort", **_S},
        ],
        "GlobalSecondaryIndexes": [
            _gsi(
                DUE_INDEX,
                "due",
                "due_sort",
                {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": ["event", "setup_id", "next_attempt_us", "lease_until_us"],
                },
            )
        ],
    },
}
TTL_TABLES = (DEPLOYMENTS, DELIVERIES)

_STATUS_ORDER = {status: n for n, status in enumerate(STATUSES)}
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(value: datetime) -> int:
    """A datetime as whole microseconds since the epoch: exact, and ordered as numbers."""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICROSECOND


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    return _EPOCH + timedelta(microseconds=int(value))


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> DynamoDB's typed attributes; None values are left out."""
    return {k: _serializer.serialize(_decimals(v)) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
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


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def describe_error(exc: Exception, action: str) -> str:
    """A DynamoDB failure in words a person can act on."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        if code == "ResourceNotFoundException":
            return (
                f"DynamoDB has no table for {action} ({message}); create the tables with "
                "`python manage.py dynamodb_create_tables` and check "
                "NOTIFIER_DYNAMODB_TABLE_PREFIX and AWS_REGION"
            )
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            return (
                f"AWS denied dynamodb:{exc.operation_name} for {action}; add it to the "
                f"service role's IAM policy (see docs/iam-policy.json). AWS said: {message}"
            )
        if code in (
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
        ):
            return f"DynamoDB throttled {action} even after backing off: {message}"
        return f"DynamoDB refused {action} ({code}): {message}"
    return f"could not reach DynamoDB for {action}: {exc}"


def guarded(method: Callable) -> Callable:
    """Turn DynamoDB failures into StorageError, so callers handle one exception type (the
    registrations table, registrations/storage.py, uses it too)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(describe_error(exc, method.__name__)) from exc

    return wrapper


@functools.cache
def _client_for(endpoint: str, region: str) -> Any:
    # Clients are thread-safe (resources are not): the dispatcher's threads share this one.
    return boto3.client("dynamodb", config=AWS_CONFIG)


def dynamodb_client() -> Any:
    """One client per endpoint and region (boto3 reads both from the environment)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL", "")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
    return _client_for(endpoint, region)


def _create_sort(event: DeploymentEvent) -> str:
    # Newest first when read backwards; a deployment without a create time sorts last.
    created = _us(event.create_time) if event.create_time else 0
    return f"{created:020d}#{event.deployment_id}"


def _delivery_sort_key(key: DeliveryKey) -> str:
    return f"{key.event}#{key.setup_id}"


def _attempt_from(raw: dict[str, Any]) -> Attempt:
    return Attempt(
        number=int(raw["number"]),
        state=raw["state"],
        started_at=_dt(raw["started_us"]),
        latency_ms=int(raw["latency_ms"]),
        response_status=raw.get("response_status"),
        error=raw.get("error", ""),
        detail=raw.get("detail", ""),
    )


def delivery_from_item(values: dict[str, Any], *, with_history: bool = True) -> Delivery:
    history = tuple(_attempt_from(a) for a in values.get("history", [])) if with_history else ()
    return Delivery(
        key=DeliveryKey(values["deployment_id"], values["event"], int(values["setup_id"])),
        kind=values["kind"],
        state=values["state"],
        attempts=int(values.get("attempts", 0)),
        created_at=_dt(values["created_us"]),
        updated_at=_dt(values["updated_us"]),
        next_attempt_at=_dt(values.get("next_attempt_us")),
        last_error=values.get("last_error", ""),
        event=DeploymentEvent.from_dict(json.loads(values["payload"])),
        history=history,
    )


def scan(client: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every item of the table as plain values, page after page."""
    params: dict[str, Any] = {"TableName": table}
    while True:
        answer = client.scan(**params)
        for item in answer.get("Items", []):
            yield from_item(item)
        if "LastEvaluatedKey" not in answer:
            return
        params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


class DynamoStore:
    """Store on DynamoDB (boto3, conditional writes). See docs/storage.md for the tables."""

    # Each write is one HTTPS request on a thread-safe client: the poller may store this
    # many deployments at once (notifier.poller._changes_store).
    write_concurrency = 8

    def __init__(self, *, prefix: str | None = None, client: Any = None) -> None:
        self.prefix = settings.NOTIFIER_DYNAMODB_TABLE_PREFIX if prefix is None else prefix
        self.client = client or dynamodb_client()
        self.state_table = f"{self.prefix}{STATE}"
        self.deployments_table = f"{self.prefix}{DEPLOYMENTS}"
        self.deliveries_table = f"{self.prefix}{DELIVERIES}"

    def _expiry(self, now: datetime) -> int:
        """The TTL attribute's value (epoch seconds) for an item that is final at `now`."""
        return int((now + timedelta(days=settings.NOTIFIER_DYNAMODB_TTL_DAYS)).timestamp())

    # --- poll state -------------------------------------------------------------------
    @guarded
    def poll_state_get(self) -> PollState:
        item = self.client.get_item(
            TableName=self.state_table, Key=to_item({"name": POLL_STATE_KEY}), ConsistentRead=True
        ).get("Item")
        if not item:
            return PollState()
        return poll_state_from_dict(json.loads(from_item(item)["data"]))

    @guarded
    def poll_state_save(self, state: PollState) -> None:
        self.client.put_item(
            TableName=self.state_table,
            Item=to_item(
                {
                    "name": POLL_STATE_KEY,
                    "data": json.dumps(poll_state_to_dict(state)),
                    "updated_us": _us(timezone.now()),
                }
            ),
        )

    @guarded
    def lease_acquire(self, name: str, holder: str, *, seconds: float) -> bool:
        now = timezone.now()
        try:
            self.client.put_item(
                TableName=self.state_table,
                Item=to_item(
                    {
                        "name": f"lease#{name}",
                        "holder": holder,
                        "lease_until_us": _us(now + timedelta(seconds=seconds)),
                    }
                ),
                ConditionExpression="attribute_not_exists(#name) OR holder = :holder "
                "OR lease_until_us < :now",
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues=to_item({":holder": holder, ":now": _us(now)}),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    @guarded
    def lease_release(self, name: str, holder: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.state_table,
                Key=to_item({"name": f"lease#{name}"}),
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues=to_item({":holder": holder}),
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    # --- deployments and the ledger ---------------------------------------------------
    @guarded
    def deployment_save(self, event: DeploymentEvent, *, seen_at: datetime) -> None:
        # Only what an index needs is an attribute of its own; the deployment itself is in
        # `event`. The timeline is a string set, "<status>@<seen_us>", that each save ADDs
        # to: a status's first-seen time is its smallest entry, and first_seen the smallest
        # of all, with no read and no if_not_exists (the costliest part of an update).
        values = {
            ":application": event.application,
            ":create_sort": _create_sort(event),
            ":listing": LISTING,
            ":event": json.dumps(event.to_dict()),
            ":seen": _us(seen_at),
            ":change": {f"{event.status}@{_us(seen_at)}"},
        }
        assignments = [
            "application = :application",
            "create_sort = :create_sort",
            "listing = :listing",
            "event = :event",
            "updated_us = :seen",
        ]
        if is_terminal(event.status):
            assignments.append(f"{TTL_ATTRIBUTE} = :expires")
            values[":expires"] = self._expiry(seen_at)
        self.client.update_item(
            TableName=self.deployments_table,
            Key=to_item({"deployment_id": event.deployment_id}),
            UpdateExpression=f"SET {', '.join(assignments)} ADD timeline :change",
            ExpressionAttributeValues=to_item(values),
        )

    @guarded
    def delivery_create(self, key: DeliveryKey, *, kind: str, event: DeploymentEvent) -> bool:
        now = _us(timezone.now())
        sort_key = _delivery_sort_key(key)
        try:
            self.client.put_item(
                TableName=self.deliveries_table,
                Item=to_item(
                    {
                        "deployment_id": key.deployment_id,
                        "delivery": sort_key,
                        "event": key.event,
                        "setup_id": key.setup_id,
                        "kind": kind,
                        "state": PENDING,
                        "attempts": 0,
                        "last_error": "",
                        "payload": json.dumps(event.to_dict()),
                        "history": [],
                        "created_us": now,
                        "updated_us": now,
                        "due": DUE,
                        "due_sort": f"{now:020d}#{key.deployment_id}#{sort_key}",
                    }
                ),
                ConditionExpression="attribute_not_exists(deployment_id)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def _key(self, key: DeliveryKey) -> dict[str, Any]:
        return to_item({"deployment_id": key.deployment_id, "delivery": _delivery_sort_key(key)})

    @guarded
    def delivery_claim(
        self, key: DeliveryKey, *, holder: str, lease_seconds: float, now: datetime | None = None
    ) -> Claim | None:
        now = now or timezone.now()
        token = f"{holder}:{uuid.uuid4().hex}"[:64]
        until = now + timedelta(seconds=lease_seconds)
        try:
            # The compare-and-set: DynamoDB applies the update only if the condition holds at
            # that moment, atomically, so of any number of concurrent claimers one wins.
            # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate
            answer = self.client.update_item(
                TableName=self.deliveries_table,
                Key=self._key(key),
                UpdateExpression="SET lease_token = :token, lease_until_us = :until, "
                "attempts = attempts + :one, updated_us = :now",
                ConditionExpression="#state = :pending "
                "AND (attribute_not_exists(lease_until_us) OR lease_until_us < :now) "
                "AND (attribute_not_exists(next_attempt_us) OR next_attempt_us <= :now)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(
                    {
                        ":token": token,
                        ":until": _us(until),
                        ":one": 1,
                        ":now": _us(now),
                        ":pending": PENDING,
                    }
                ),
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        attempts = int(from_item(answer["Attributes"])["attempts"])
        return Claim(key=key, token=token, attempt=attempts, lease_until=until)

    @guarded
    def delivery_record(self, claim: Claim, outcome: AttemptOutcome) -> bool:
        now = timezone.now()
        attempt = {
            "number": claim.attempt,
            "state": outcome.state,
            "started_us": _us(outcome.started_at),
            "latency_ms": outcome.latency_ms,
            "response_status": outcome.response_status,
            "error": outcome.error,
            "detail": outcome.detail,
        }
        values: dict[str, Any] = {
            ":state": outcome.state,
            ":error": outcome.error,
            ":now": _us(now),
            ":attempt": [{k: v for k, v in attempt.items() if v is not None}],
            ":token": claim.token,
        }
        assignments = [
            "#state = :state",
            "last_error = :error",
            "updated_us = :now",
            "history = list_append(history, :attempt)",
        ]
        removals = ["lease_token", "lease_until_us"]
        if outcome.next_attempt_at is not None:
            assignments.append("next_attempt_us = :next")
            values[":next"] = _us(outcome.next_attempt_at)
        else:
            removals.append("next_attempt_us")
        if outcome.state in FINAL_STATES:
            # Leaves the sparse `due` index, and expires after NOTIFIER_DYNAMODB_TTL_DAYS.
            removals.append("due")
            assignments.append(f"{TTL_ATTRIBUTE} = :expires")
            values[":expires"] = self._expiry(now)
        try:
            self.client.update_item(
                TableName=self.deliveries_table,
                Key=self._key(claim.key),
                UpdateExpression=f"SET {', '.join(assignments)} REMOVE {', '.join(removals)}",
                ConditionExpression="lease_token = :token",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(values),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    @guarded
    def delivery_release(self, claim: Claim) -> bool:
        try:
            self.client.update_item(
                TableName=self.deliveries_table,
                Key=self._key(claim.key),
                UpdateExpression="SET attempts = attempts - :one, updated_us = :now "
                "REMOVE lease_token, lease_until_us",
                ConditionExpression="lease_token = :token AND #state = :pending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(
                    {
                        ":one": 1,
                        ":now": _us(timezone.now()),
                        ":token": claim.token,
                        ":pending": PENDING,
                    }
                ),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def _query(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item a Query returns, page after page."""
        while True:
            answer = self.client.query(**params)
            for item in answer.get("Items", []):
                yield from_item(item)
            if "LastEvaluatedKey" not in answer:
                return
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    @guarded
    def deliveries_due(self, *, now: datetime | None = None, limit: int = 100) -> list[DeliveryKey]:
        now = now or timezone.now()
        keys: list[DeliveryKey] = []
        for values in self._query(
            TableName=self.deliveries_table,
            IndexName=DUE_INDEX,
            KeyConditionExpression="due = :due",
            FilterExpression="(attribute_not_exists(next_attempt_us) OR next_attempt_us <= :now) "
            "AND (attribute_not_exists(lease_until_us) OR lease_until_us < :now)",
            ExpressionAttributeValues=to_item({":due": DUE, ":now": _us(now)}),
            Limit=max(limit, 100),
        ):
            keys.append(
                DeliveryKey(values["deployment_id"], values["event"], int(values["setup_id"]))
            )
            if len(keys) >= limit:
                break
        return keys

    @guarded
    def delivery_get(self, key: DeliveryKey) -> Delivery | None:
        item = self.client.get_item(
            TableName=self.deliveries_table, Key=self._key(key), ConsistentRead=True
        ).get("Item")
        return delivery_from_item(from_item(item)) if item else None

    @guarded
    def delivery_requeue(self, key: DeliveryKey) -> bool:
        now = _us(timezone.now())
        try:
            self.client.update_item(
                TableName=self.deliveries_table,
                Key=self._key(key),
                UpdateExpression="SET #state = :pending, next_attempt_us = :now, updated_us = :now,"
                f" due = :due REMOVE lease_token, lease_until_us, {TTL_ATTRIBUTE}",
                ConditionExpression="attribute_exists(deployment_id) AND #state <> :pending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(
                    {
                        ":pending": PENDING,
                        ":now": now,
                        ":due": DUE,
                    }
                ),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    # --- history ----------------------------------------------------------------------
    def deliveries_of(self, deployment_id: str, *, with_history: bool) -> list[Delivery]:
        items = self._query(
            TableName=self.deliveries_table,
            KeyConditionExpression="deployment_id = :id",
            ExpressionAttributeValues=to_item({":id": deployment_id}),
            ConsistentRead=True,
        )
        deliveries = [delivery_from_item(v, with_history=with_history) for v in items]
        deliveries.sort(key=lambda d: (d.created_at, d.key.event, d.key.setup_id))
        return deliveries

    def _record(self, values: dict[str, Any], *, detail: bool) -> DeploymentRecord:
        first: dict[str, int] = {}
        for entry in values.get("timeline", ()):
            status, _, seen = entry.rpartition("@")
            first[status] = min(int(seen), first.get(status, int(seen)))
        timeline = sorted(
            (StatusChange(status, _dt(seen)) for status, seen in first.items()),
            key=lambda change: (change.seen_at, _STATUS_ORDER.get(change.status, len(STATUSES))),
        )
        return DeploymentRecord(
            event=DeploymentEvent.from_dict(json.loads(values["event"])),
            first_seen=_dt(min(first.values(), default=values["updated_us"])),
            updated_at=_dt(values["updated_us"]),
            timeline=tuple(timeline) if detail else (),
            deliveries=tuple(self.deliveries_of(values["deployment_id"], with_history=detail)),
        )

    @guarded
    def deployments_page(
        self, *, application: str | None = None, page: int = 1, per_page: int = 50
    ) -> Page:
        page = max(1, page)
        start = (page - 1) * per_page
        if application:
            index, condition = APPLICATION_INDEX, "application = :partition"
            partition = application
        else:
            index, condition, partition = NEWEST_INDEX, "listing = :partition", LISTING
        # DynamoDB pages by key, not by number: read past the earlier pages' items.
        wanted = start + per_page + 1
        rows: list[dict[str, Any]] = []
        for values in self._query(
            TableName=self.deployments_table,
            IndexName=index,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_item({":partition": partition}),
            ScanIndexForward=False,
            Limit=min(wanted, 500),
        ):
            rows.append(values)
            if len(rows) >= wanted:
                break
        chunk = rows[start:]
        return Page(
            items=[self._record(v, detail=False) for v in chunk[:per_page]],
            number=page,
            has_next=len(chunk) > per_page,
            total=None,
        )

    @guarded
    def deployment_get(self, deployment_id: str) -> DeploymentRecord | None:
        item = self.client.get_item(
            TableName=self.deployments_table,
            Key=to_item({"deployment_id": deployment_id}),
            ConsistentRead=True,
        ).get("Item")
        return self._record(from_item(item), detail=True) if item else None

    # --- whole-table reads (backfill, sync) -------------------------------------------
    def deployment_records(self) -> Iterator[DeploymentRecord]:
        """Every stored deployment with its timeline and deliveries (for the audit backfill)."""
        try:
            for values in scan(self.client, self.deployments_table):
                yield self._record(values, detail=True)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(describe_error(exc, "reading every deployment")) from exc

    # --- tables ----------------------------------------------------------------------
    def tables_ensure(self) -> list[str]:
        """Create the ledger's tables that are missing (on-demand capacity) and turn TTL on.

        Returns one line per thing done or found, for `manage.py dynamodb_create_tables`.
        """
        return tables_ensure(client=self.client, prefix=self.prefix, tables=TABLES, ttl=TTL_TABLES)


@guarded
def tables_ensure(
    *,
    client: Any,
    prefix: str,
    tables: dict[str, dict[str, Any]],
    ttl: tuple[str, ...] = (),
) -> list[str]:
    """Create those of `tables` (suffix -> CreateTable arguments) that are missing, on-demand,
    and turn TTL on for the suffixes in `ttl`; one line per thing done or found."""
    lines: list[str] = []
    existing: set[str] = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page.get("TableNames", []))
    created = []
    for suffix, definition in tables.items():
        name = f"{prefix}{suffix}"
        if name in existing:
            lines.append(f"table {name} exists already")
            continue
        client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **definition)
        created.append(name)
        indexes = [i["IndexName"] for i in definition.get("GlobalSecondaryIndexes", [])]
        with_indexes = f" with index(es) {', '.join(indexes)}" if indexes else ""
        lines.append(f"created table {name} (on-demand capacity){with_indexes}")
    waiter = client.get_waiter("table_exists")
    for name in created:
        waiter.wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    for suffix in ttl:
        name = f"{prefix}{suffix}"
        described = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if described.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            lines.append(f"TTL on {name}.{TTL_ATTRIBUTE} is on already")
            continue
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
        lines.append(f"turned on TTL on {name}.{TTL_ATTRIBUTE}")
    return lines
