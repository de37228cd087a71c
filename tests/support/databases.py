"""A second Django database alias on the PostgreSQL at 127.0.0.1:5432, for tests.

`add_postgres_alias()` adds the alias `POSTGRES_ALIAS` (the database `test`; Django's test
runner creates and drops its own `test_notifier_ledger_<pid>` there) to the settings and to
Django's connection handler, so a test marked
`django_db(databases=["default", POSTGRES_ALIAS])` gets a migrated, flushed Postgres with the
notifier app's tables (notifier.routers keeps every other app on `default`). It is not named
`audit`, so the service's own behaviour (get_history_reader(), the dynamodb factory) is the same
in every test whether PostgreSQL is up or not.
"""

from __future__ import annotations

import os

import dj_database_url
from django.conf import settings
from django.db import connections

from tests.support.services import port_open

POSTGRES_ALIAS = "ledger_postgres"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"


def postgres_config(url: str = POSTGRES_URL, *, test_name: str | None = None) -> dict:
    config = dj_database_url.parse(url, conn_max_age=0)
    config["TEST"] = {"NAME": test_name or f"test_notifier_ledger_{os.getpid()}"}
    return config


def add_postgres_alias() -> bool:
    """Add the alias when PostgreSQL answers; False (and nothing added) when it does not."""
    if POSTGRES_ALIAS in settings.DATABASES:
        return True
    if not port_open("127.0.0.1", 5432):
        return False
    config = postgres_config()
    settings.DATABASES[POSTGRES_ALIAS] = config
    if "settings" in connections.__dict__:  # the handler read DATABASES already
        connections.settings[POSTGRES_ALIAS] = connections.configure_settings(
            {"default": settings.DATABASES["default"], POSTGRES_ALIAS: dict(config)}
        )[POSTGRES_ALIAS]
    return True
