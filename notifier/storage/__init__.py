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
