"""The pluggable ledger. `get_store()` returns the backend NOTIFIER_STORAGE names."""

from __future__ import annotations

import functools
import importlib

from django.conf import settings

from notifier.storage.base import Store

# An explicit registry: the setting's value -> the factory's dotted path.
BACKENDS = {
    "orm": "notifier.storage.orm.OrmStore",
    "dynamodb": "notifier.storage.dynamodb.build_store",
}


@functools.cache
def _factory(name: str):
    module_path, _, attr = BACKENDS[name].rpartition(".")
    return getattr(importlib.import_module(module_path), attr)


def get_store() -> Store:
    return _factory(settings.NOTIFIER_STORAGE)()


def history_database() -> str | None:
    """The Django database alias that holds history as notifier.models rows, for pages that
    need rich filtering: `default` with the ORM store, `audit` with DynamoDB plus the audit
    mirror, None with DynamoDB alone (pages then use Store.deployments_page)."""
    if settings.NOTIFIER_STORAGE == "orm":
        return "default"
    if "audit" in settings.DATABASES:
        return "audit"
    return None
