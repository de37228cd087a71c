"""A trigram index for the history list's search by revision or creator (PostgreSQL only).

The search is `UPPER(column::text) LIKE UPPER('%text%')` (Django's icontains); a GIN index of
trigrams on exactly those expressions finds the few matching rows without reading the whole
table. pg_trgm is a trusted extension from PostgreSQL 13, so the service's own database user
may create it. https://www.postgresql.org/docs/current/pgtrgm.html#PGTRGM-INDEX
Other databases (SQLite in development) skip this: their search reads the table.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS deployment_search ON notifier_deployment USING gin "
        "((UPPER(revision::text)) gin_trgm_ops, (UPPER(creator::text)) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS deployment_search")


class Migration(migrations.Migration):
    dependencies = [("notifier", "0002_history_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
