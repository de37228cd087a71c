"""The DynamoDB store: poll state, the delivery ledger and history in four tables.

The table design (keys, indexes, item shapes, TTL, capacity mode) is in docs/storage.md.
The package's parts, from the bottom: `items` (items <-> plain values and dataclasses),
`client` (the client, StorageError from its failures, paged reads), `tables` (the tables'
definitions and `tables_ensure`), `reads` (history reads) and `ledger` (DynamoStore).

Exactly-once rests on conditional writes: a claim is an UpdateItem whose condition only a
pending, due, unleased item meets, and a record is an UpdateItem conditioned on the claim's
token, so of any number of concurrent claimers exactly one wins and a stale holder's late
record is refused. Throttling and transient errors are retried by botocore's adaptive mode
(backoff plus client-side rate limiting); whatever still fails becomes StorageError.
"""

from __future__ import annotations

from notifier.storage.dynamodb.client import (
    describe_error,
    dynamodb_client,
    guarded,
    health_dynamodb_client,
    scan,
)
from notifier.storage.dynamodb.items import delivery_from_item, from_item, to_item
from notifier.storage.dynamodb.ledger import DynamoStore
from notifier.storage.dynamodb.tables import TABLES, TTL_ATTRIBUTE, TTL_TABLES, tables_ensure

__all__ = [
    "TABLES",
    "TTL_ATTRIBUTE",
    "TTL_TABLES",
    "DynamoStore",
    "delivery_from_item",
    "describe_error",
    "dynamodb_client",
    "from_item",
    "guarded",
    "health_dynamodb_client",
    "scan",
    "tables_ensure",
    "to_item",
]
