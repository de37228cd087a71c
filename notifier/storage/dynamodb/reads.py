"""The DynamoDB store's history reads: deployments newest first, one deployment with its
timeline and deliveries, and every deployment for the audit backfill."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from notifier.events import STATUSES, DeploymentEvent
from notifier.storage.base import Delivery, DeploymentRecord, Page, StatusChange, StorageError
from notifier.storage.dynamodb.client import describe_error, guarded, query, scan
from notifier.storage.dynamodb.items import delivery_from_item, from_item, from_us, to_item
from notifier.storage.dynamodb.tables import APPLICATION_INDEX, LISTING, NEWEST_INDEX

_STATUS_ORDER = {status: n for n, status in enumerate(STATUSES)}


class DeploymentReads:
    """The history half of DynamoStore (notifier.storage.dynamodb.ledger), over its `client`,
    `deployments_table` and `deliveries_table`."""

    client: Any
    deployments_table: str
    deliveries_table: str

    def deliveries_of(self, deployment_id: str, *, with_history: bool) -> list[Delivery]:
        items = query(
            self.client,
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
            (StatusChange(status, from_us(seen)) for status, seen in first.items()),
            key=lambda change: (change.seen_at, _STATUS_ORDER.get(change.status, len(STATUSES))),
        )
        return DeploymentRecord(
            event=DeploymentEvent.from_dict(json.loads(values["event"])),
            first_seen=from_us(min(first.values(), default=values["updated_us"])),
            updated_at=from_us(values["updated_us"]),
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
        for values in query(
            self.client,
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
