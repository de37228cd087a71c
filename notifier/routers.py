"""Which database holds what.

`default` holds everything. Any other alias — `audit`, the Postgres that AUDIT_DATABASE_URL
names — holds only the notifier app's tables (deployments, deliveries, attempts), written
and read explicitly by the audit mirror (`OrmStore(using="audit")`). The router never sends
a query there by itself: registrations, users, sessions and django-q2's tables stay on
`default`, and so do the ORM store's ledger rows.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS

LEDGER_APP = "notifier"


class AuditRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return None  # Django's default: `default`, unless a query names its database

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # Rows may only point at rows in the same database.
        if obj1._state.db and obj2._state.db:
            return obj1._state.db == obj2._state.db
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if db == DEFAULT_DB_ALIAS:
            return None
        return app_label == LEDGER_APP
