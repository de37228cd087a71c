"""The pluggable ledger. `get_store()` is the one place a backend is chosen and built."""

from __future__ import annotations

from django.conf import settings

from notifier.storage.base import HistoryReader, Store
from notifier.storage.dynamodb import DynamoStore, health_dynamodb_client
from notifier.storage.history_sql import SqlHistoryReader
from notifier.storage.history_store import StoreHistoryReader
from notifier.storage.mirror import MirrorStore
from notifier.storage.orm import OrmStore


def uses_dynamodb() -> bool:
    """True when NOTIFIER_STORAGE=dynamodb: the ledger, and the registrations table beside
    it (registrations.storage), live in DynamoDB."""
    return settings.NOTIFIER_STORAGE == "dynamodb"


def get_store() -> Store:
    """The store NOTIFIER_STORAGE names: `orm` (the default database), or `dynamodb` alone,
    or DynamoDB with the audit mirror when AUDIT_DATABASE_URL names a Postgres (the `audit`
    database alias)."""
    if not uses_dynamodb():
        return OrmStore()
    if "audit" in settings.DATABASES:
        return MirrorStore(primary=DynamoStore(), mirror=OrmStore(using="audit"))
    return DynamoStore()


def get_health_store() -> Store:
    """The store health checks read the poll state from, fast even when storage is down.

    DynamoDB: one try with 0.5 s timeouts (notifier.storage.dynamodb.client.HEALTH_CONFIG),
    no mirror (the poll state lives in DynamoDB). ORM: Django's connection; SQLite is a local
    file, and a PostgreSQL that is down refuses the connection at once.
    """
    if not uses_dynamodb():
        return OrmStore()
    return DynamoStore(client=health_dynamodb_client())


def get_history_reader() -> HistoryReader:
    """The one place the history pages' reader is chosen: SQL on the `default` database with
    the ORM store, SQL on the `audit` database with DynamoDB plus the audit mirror, and the
    Store's own reads with DynamoDB alone (the pages then say what needs the mirror)."""
    if not uses_dynamodb():
        return SqlHistoryReader(using="default")
    if "audit" in settings.DATABASES:
        return SqlHistoryReader(using="audit")
    return StoreHistoryReader(DynamoStore())
