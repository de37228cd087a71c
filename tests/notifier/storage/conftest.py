"""The `store` fixture: one contract suite, run over every backend and database.

orm-sqlite: OrmStore on the default (SQLite) test database.
orm-postgres: OrmStore on the PostgreSQL at 127.0.0.1 through the `ledger_postgres` alias
    (tests/support/databases.py); skipped on a laptop without PostgreSQL, failed under CI.
dynamodb: DynamoStore on moto's server over HTTP (the `aws` fixture).
"""

from __future__ import annotations

import pytest

from notifier.storage.orm import OrmStore
from tests.support.databases import POSTGRES_ALIAS, add_postgres_alias
from tests.support.dynamodb import dynamo_store
from tests.support.services import POSTGRES_HOW, missing

HAVE_POSTGRES = add_postgres_alias()
ON_POSTGRES = ["default", POSTGRES_ALIAS] if HAVE_POSTGRES else ["default"]

BACKENDS = [
    pytest.param("orm-sqlite", marks=pytest.mark.django_db(transaction=True)),
    pytest.param(
        "orm-postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.django_db(transaction=True, databases=ON_POSTGRES),
        ],
    ),
    pytest.param("dynamodb", marks=pytest.mark.django_db(transaction=True)),
]


@pytest.fixture(params=BACKENDS)
def store(request):
    if request.param == "orm-sqlite":
        return OrmStore()
    if request.param == "orm-postgres":
        if not HAVE_POSTGRES:
            missing("PostgreSQL", POSTGRES_HOW)
        return OrmStore(using=POSTGRES_ALIAS)
    request.getfixturevalue("aws")
    return dynamo_store()
