"""The registrations table: each registration's document in DynamoDB, as the original
service kept them (NOTIFIER_STORAGE=dynamodb only).

The table is NOTIFIER_DYNAMODB_TABLE_PREFIX + "registrations", keyed by
`codedeploy_application_name`; each item is the registration's REST document (with its
`source`) and its nulls kept. The key is the bare application name for the default source, so
items stored before sources existed stay valid, and `<source>/<application>` for any other
source (`registration_key`), so the same name in two accounts is two items.
`registration_table()` is the one place that decides whether there is one.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from django.conf import settings

from notifier.storage import uses_dynamodb
from notifier.storage.base import StorageError
from notifier.storage.dynamodb import dynamodb_client, guarded, scan, tables_ensure, to_item

SUFFIX = "registrations"
KEY = "codedeploy_application_name"
TABLES: dict[str, dict[str, Any]] = {
    SUFFIX: {
        "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": KEY, "AttributeType": "S"}],
    },
}
_serializer = TypeSerializer()


def registration_key(*, source: str, application: str, is_default: bool) -> str:
    """A registration's key in the table: see the module's docstring."""
    return application if is_default else f"{source}/{application}"


def registration_item(document: dict[str, Any], *, key: str) -> dict[str, Any]:
    """The document as the table holds it: its key in `codedeploy_application_name`."""
    return {**document, KEY: key}


class RegistrationTable:
    """The registrations table in DynamoDB. Failures raise notifier's StorageError."""

    def __init__(self, *, prefix: str | None = None, client: Any = None) -> None:
        self.prefix = settings.NOTIFIER_DYNAMODB_TABLE_PREFIX if prefix is None else prefix
        self.client = client or dynamodb_client()
        self.name = f"{self.prefix}{SUFFIX}"

    @guarded
    def put(self, document: dict[str, Any], *, key: str = "", replacing: str = "") -> None:
        """Store a registration's document under `key` (default: its application name);
        `replacing` names an old key to remove in the same transaction (a rename or a move
        to another source)."""
        item = registration_item(document, key=key or document[KEY])
        values = json.loads(json.dumps(item), parse_float=Decimal)
        item = {k: _serializer.serialize(v) for k, v in values.items()}  # nulls kept
        if not replacing:
            self.client.put_item(TableName=self.name, Item=item)
            return
        self.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.name, "Item": item}},
                {"Delete": {"TableName": self.name, "Key": to_item({KEY: replacing})}},
            ]
        )

    @guarded
    def delete(self, *applications: str) -> None:
        """Remove registrations' documents; up to 100 at once are removed all or none."""
        keys = [to_item({KEY: name}) for name in applications]
        if len(keys) == 1:
            self.client.delete_item(TableName=self.name, Key=keys[0])
            return
        for start in range(0, len(keys), 100):  # TransactWriteItems takes at most 100
            self.client.transact_write_items(
                TransactItems=[
                    {"Delete": {"TableName": self.name, "Key": key}}
                    for key in keys[start : start + 100]
                ]
            )

    @guarded
    def documents(self) -> dict[str, dict[str, Any]]:
        """key -> the stored document, for every registration in the table."""
        return {values[KEY]: values for values in scan(self.client, self.name)}

    def table_ensure(self) -> list[str]:
        """Create the table if it is missing; one line saying what was done or found."""
        return tables_ensure(client=self.client, prefix=self.prefix, tables=TABLES)


def registration_table() -> RegistrationTable | None:
    """The registrations table when the ledger is DynamoDB; None with the ORM store, where
    registrations live in Django's database alone."""
    return RegistrationTable() if uses_dynamodb() else None


class RegistrationStoreError(Exception):
    """DynamoDB refused a registration write; the Django change was rolled back."""


def registration_document_put(
    *, document: dict[str, Any], key: str, previous_key: str = ""
) -> None:
    """Write a registration's document under `key` (and, when its key changed, remove the
    old key's item, in the same DynamoDB transaction); RegistrationStoreError if refused.
    No-op without a registrations table. Call it inside the request's transaction."""
    table = registration_table()
    if table is None:
        return
    name = document[KEY]
    renamed = previous_key if previous_key != key else ""
    try:
        table.put(document, key=key, replacing=renamed)
    except StorageError as exc:
        raise RegistrationStoreError(
            f"{name!r} was not saved: DynamoDB refused to store the registration, so nothing "
            f"was changed. Try again in a moment. ({exc})"
        ) from exc


def registration_documents_delete(*, keys: list[str]) -> None:
    """Remove these registrations' documents (by key), all or none; RegistrationStoreError if
    refused. No-op without a registrations table. Call it inside the request's transaction."""
    table = registration_table()
    if table is None or not keys:
        return
    try:
        table.delete(*keys)
    except StorageError as exc:
        names = ", ".join(map(repr, keys))
        raise RegistrationStoreError(
            f"{names} not deleted: DynamoDB refused to remove the registration, so nothing "
            f"was changed. Try again in a moment. ({exc})"
        ) from exc
