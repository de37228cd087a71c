"""DynamoDB on moto's server, with moto's writes made atomic as DynamoDB's are.

moto's server answers requests on several threads and evaluates a condition expression and
applies the write in plain Python, with nothing stopping two requests from interleaving;
DynamoDB applies each conditional write atomically. `serialise_moto_writes()` puts one lock
around moto's item writes (in this process, where ThreadedMotoServer runs), so the
contract suite's races test the store, not moto's threading.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
"""

from __future__ import annotations

import functools
import threading

from notifier.storage.dynamodb import DynamoStore

TABLE_PREFIX = "test-notifier-"
_lock = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def serialise_moto_writes() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        method = getattr(DynamoDBBackend, name, None)
        if method is None or getattr(method, "_serialised", False):
            continue

        def locked(self, *args, _method=method, **kwargs):
            with _lock:
                return _method(self, *args, **kwargs)

        functools.update_wrapper(locked, method)
        locked._serialised = True
        setattr(DynamoDBBackend, name, locked)


def dynamo_store(prefix: str = TABLE_PREFIX) -> DynamoStore:
    """A DynamoStore on fresh tables (call after moto's reset)."""
    serialise_moto_writes()
    store = DynamoStore(prefix=prefix)
    store.tables_ensure()
    return store
