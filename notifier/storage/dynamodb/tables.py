"""The ledger's tables: names, keys, indexes and TTL, and `tables_ensure` that creates them.

The table design (keys, indexes, item shapes, TTL, capacity mode) is in docs/storage.md;
`TABLES` below is its executable form, used by `manage.py dynamodb_create_tables`.
"""

from __future__ import annotations

from typing import Any

from notifier.storage.dynamodb.client import guarded

# Table suffixes; the full name is NOTIFIER_DYNAMODB_TABLE_PREFIX + suffix.
# (The registrations table, NOTIFIER_DYNAMODB_TABLE_PREFIX + "registrations", belongs to the
# registrations app: registrations/storage.py.)
STATE, DEPLOYMENTS, DELIVERIES = ("state", "deployments", "deliveries")
NEWEST_INDEX = "newest"  # deployments: every deployment, newest first
APPLICATION_INDEX = "by-application"  # deployments of one application, newest first
DUE_INDEX = "due"  # deliveries: a sparse index of the pending ones, oldest first
LISTING = "deployments"  # the one partition of the `newest` index
DUE = "pending"  # the one partition of the `due` index; absent once a delivery is final
TTL_ATTRIBUTE = "expires_at"


def poll_state_key(source: str) -> str:
    """A source's poll-state item: `poll#default` for the default source, as before sources."""
    return f"poll#{source}"


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
    existing: set[str] = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page.get("TableNames", []))
    lines, created = _tables_create(client=client, prefix=prefix, tables=tables, existing=existing)
    waiter = client.get_waiter("table_exists")
    for name in created:
        waiter.wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    for suffix in ttl:
        lines.append(_ttl_ensure(client=client, name=f"{prefix}{suffix}"))
    return lines


def _tables_create(
    *, client: Any, prefix: str, tables: dict[str, dict[str, Any]], existing: set[str]
) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    created: list[str] = []
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
    return lines, created


def _ttl_ensure(*, client: Any, name: str) -> str:
    described = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if described.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return f"TTL on {name}.{TTL_ATTRIBUTE} is on already"
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    return f"turned on TTL on {name}.{TTL_ATTRIBUTE}"
