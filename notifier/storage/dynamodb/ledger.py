"""DynamoStore: poll state, leases, deployments and the delivery ledger in DynamoDB.

Exactly-once rests on conditional writes: a claim is an UpdateItem whose condition only a
pending, due, unleased item meets, and a record is an UpdateItem conditioned on the claim's
token, so of any number of concurrent claimers exactly one wins and a stale holder's late
record is refused. The history reads are in notifier.storage.dynamodb.reads.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from notifier.events import DeploymentEvent, is_terminal
from notifier.storage.base import (
    DEFAULT_SOURCE,
    FINAL_STATES,
    PENDING,
    AttemptOutcome,
    Claim,
    Delivery,
    DeliveryKey,
    PollState,
    claim_token,
)
from notifier.storage.codec import poll_state_from_dict, poll_state_to_dict
from notifier.storage.dynamodb.client import conditional_write, dynamodb_client, guarded, query
from notifier.storage.dynamodb.items import (
    attempt_item,
    claim_from,
    create_sort,
    delivery_from_item,
    delivery_sort_key,
    from_item,
    to_item,
    to_us,
)
from notifier.storage.dynamodb.push import PushQueueItems
from notifier.storage.dynamodb.reads import DeploymentReads
from notifier.storage.dynamodb.tables import (
    DELIVERIES,
    DEPLOYMENTS,
    DUE,
    DUE_INDEX,
    LISTING,
    STATE,
    TABLES,
    TTL_ATTRIBUTE,
    TTL_TABLES,
    poll_state_key,
    tables_ensure,
)


class DynamoStore(DeploymentReads, PushQueueItems):
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
    def poll_state_get(self, *, source: str = DEFAULT_SOURCE) -> PollState:
        item = self.client.get_item(
            TableName=self.state_table,
            Key=to_item({"name": poll_state_key(source)}),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return PollState()
        return poll_state_from_dict(json.loads(from_item(item)["data"]))

    @guarded
    def poll_state_save(self, state: PollState, *, source: str = DEFAULT_SOURCE) -> None:
        self.client.put_item(
            TableName=self.state_table,
            Item=to_item(
                {
                    "name": poll_state_key(source),
                    "data": json.dumps(poll_state_to_dict(state)),
                    "updated_us": to_us(timezone.now()),
                }
            ),
        )

    @guarded
    def lease_acquire(self, name: str, holder: str, *, seconds: float) -> bool:
        now = timezone.now()
        written = conditional_write(
            self.client.put_item,
            TableName=self.state_table,
            Item=to_item(
                {
                    "name": f"lease#{name}",
                    "holder": holder,
                    "lease_until_us": to_us(now + timedelta(seconds=seconds)),
                }
            ),
            ConditionExpression="attribute_not_exists(#name) OR holder = :holder "
            "OR lease_until_us < :now",
            ExpressionAttributeNames={"#name": "name"},
            ExpressionAttributeValues=to_item({":holder": holder, ":now": to_us(now)}),
        )
        return written is not None

    @guarded
    def lease_release(self, name: str, holder: str) -> None:
        # Not holding it (any more) is fine: then there is nothing to release.
        conditional_write(
            self.client.delete_item,
            TableName=self.state_table,
            Key=to_item({"name": f"lease#{name}"}),
            ConditionExpression="holder = :holder",
            ExpressionAttributeValues=to_item({":holder": holder}),
        )

    # --- deployments and the ledger ---------------------------------------------------
    @guarded
    def deployment_save(self, event: DeploymentEvent, *, seen_at: datetime) -> None:
        # Only what an index needs is an attribute of its own; the deployment is in `event`.
        # The timeline is a string set, "<status>@<seen_us>", each save ADDs to (no read, no
        # if_not_exists). Only terminal saves set the TTL: a non-terminal save is conditional
        # on its absence, so a late non-terminal state never replaces a terminal one.
        values = {
            ":application": event.application,
            ":create_sort": create_sort(event),
            ":listing": LISTING,
            ":event": json.dumps(event.to_dict()),
            ":seen": to_us(seen_at),
            ":change": {f"{event.status}@{to_us(seen_at)}"},
        }
        assignments = [
            "application = :application",
            "create_sort = :create_sort",
            "listing = :listing",
            "event = :event",
            "updated_us = :seen",
        ]
        condition = {"ConditionExpression": f"attribute_not_exists({TTL_ATTRIBUTE})"}
        if is_terminal(event.status):
            assignments.append(f"{TTL_ATTRIBUTE} = :expires")
            values[":expires"], condition = self._expiry(seen_at), {}
        conditional_write(
            self.client.update_item,
            TableName=self.deployments_table,
            Key=to_item({"deployment_id": event.deployment_id}),
            UpdateExpression=f"SET {', '.join(assignments)} ADD timeline :change",
            ExpressionAttributeValues=to_item(values),
            **condition,
        )

    @guarded
    def delivery_create(self, key: DeliveryKey, *, kind: str, event: DeploymentEvent) -> bool:
        now = to_us(timezone.now())
        sort_key = delivery_sort_key(key)
        written = conditional_write(
            self.client.put_item,
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
        return written is not None

    def _key(self, key: DeliveryKey) -> dict[str, Any]:
        return to_item({"deployment_id": key.deployment_id, "delivery": delivery_sort_key(key)})

    @guarded
    def delivery_claim(
        self, key: DeliveryKey, *, holder: str, lease_seconds: float, now: datetime | None = None
    ) -> Claim | None:
        now = now or timezone.now()
        token = claim_token(holder=holder)
        until = now + timedelta(seconds=lease_seconds)
        # The compare-and-set: DynamoDB applies the update only if the condition holds at
        # that moment, atomically, so of any number of concurrent claimers one wins.
        # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate
        answer = conditional_write(
            self.client.update_item,
            TableName=self.deliveries_table,
            Key=self._key(key),
            # in_flight_us: kept from an earlier claim that never recorded an outcome.
            UpdateExpression="SET lease_token = :token, lease_until_us = :until, "
            "attempts = attempts + :one, updated_us = :now, "
            "in_flight_us = if_not_exists(in_flight_us, :now)",
            ConditionExpression="#state = :pending "
            "AND (attribute_not_exists(lease_until_us) OR lease_until_us < :now) "
            "AND (attribute_not_exists(next_attempt_us) OR next_attempt_us <= :now)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_item(
                {
                    ":token": token,
                    ":until": to_us(until),
                    ":one": 1,
                    ":now": to_us(now),
                    ":pending": PENDING,
                }
            ),
            # ALL_NEW: UPDATED_NEW leaves out an if_not_exists that kept its value.
            ReturnValues="ALL_NEW",
        )
        if answer is None:
            return None
        return claim_from(from_item(answer["Attributes"]), token=token, until=until, now=now)

    @guarded
    def delivery_record(self, claim: Claim, outcome: AttemptOutcome) -> bool:
        now = timezone.now()
        values: dict[str, Any] = {
            ":state": outcome.state,
            ":error": outcome.error,
            ":error_code": outcome.error_code,
            ":now": to_us(now),
            ":attempt": [attempt_item(claim.attempt, outcome)],
            ":token": claim.token,
        }
        assignments = [
            "#state = :state",
            "last_error = :error",
            "last_error_code = :error_code",
            "updated_us = :now",
            "history = list_append(history, :attempt)",
        ]
        removals = ["lease_token", "lease_until_us", "in_flight_us"]
        if outcome.next_attempt_at is not None:
            assignments.append("next_attempt_us = :next")
            values[":next"] = to_us(outcome.next_attempt_at)
        else:
            removals.append("next_attempt_us")
        if outcome.state in FINAL_STATES:
            # Leaves the sparse `due` index, and expires after NOTIFIER_DYNAMODB_TTL_DAYS.
            removals.append("due")
            assignments.append(f"{TTL_ATTRIBUTE} = :expires")
            values[":expires"] = self._expiry(now)
        written = conditional_write(
            self.client.update_item,
            TableName=self.deliveries_table,
            Key=self._key(claim.key),
            UpdateExpression=f"SET {', '.join(assignments)} REMOVE {', '.join(removals)}",
            ConditionExpression="lease_token = :token",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_item(values),
        )
        return written is not None

    @guarded
    def delivery_release(self, claim: Claim) -> bool:
        values = {":one": 1, ":now": to_us(timezone.now()), ":token": claim.token}
        # A takeover keeps in_flight_us: the attempt before it may still have been sent.
        in_flight = "" if claim.in_flight_since else ", in_flight_us"
        return None is not conditional_write(
            self.client.update_item,
            TableName=self.deliveries_table,
            Key=self._key(claim.key),
            UpdateExpression="SET attempts = attempts - :one, updated_us = :now "
            f"REMOVE lease_token, lease_until_us{in_flight}",
            ConditionExpression="lease_token = :token",
            ExpressionAttributeValues=to_item(values),
        )

    @guarded
    def deliveries_due(self, *, now: datetime | None = None, limit: int = 100) -> list[DeliveryKey]:
        now = now or timezone.now()
        keys: list[DeliveryKey] = []
        for values in query(
            self.client,
            TableName=self.deliveries_table,
            IndexName=DUE_INDEX,
            KeyConditionExpression="due = :due",
            FilterExpression="(attribute_not_exists(next_attempt_us) OR next_attempt_us <= :now) "
            "AND (attribute_not_exists(lease_until_us) OR lease_until_us < :now)",
            ExpressionAttributeValues=to_item({":due": DUE, ":now": to_us(now)}),
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
        now = to_us(timezone.now())
        written = conditional_write(
            self.client.update_item,
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
        return written is not None

    # --- tables ----------------------------------------------------------------------
    def tables_ensure(self) -> list[str]:
        """Create the ledger's tables that are missing (on-demand capacity) and turn TTL on.

        Returns one line per thing done or found, for `manage.py dynamodb_create_tables`.
        """
        return tables_ensure(client=self.client, prefix=self.prefix, tables=TABLES, ttl=TTL_TABLES)
