from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from notifier.storage.base import StorageError
from notifier.storage.dynamodb import DynamoStore
from notifier.storage.mirror import mirror_backfill


class Command(BaseCommand):
    help = (
        "Copy into the audit mirror (AUDIT_DATABASE_URL) every deployment, delivery and "
        "attempt in DynamoDB that the mirror missed or holds out of date. Safe to run again."
    )

    def handle(self, *args, **options):
        if settings.NOTIFIER_STORAGE != "dynamodb" or "audit" not in settings.DATABASES:
            raise CommandError(
                "the audit mirror is off: set NOTIFIER_STORAGE=dynamodb and AUDIT_DATABASE_URL "
                "(then run `python manage.py migrate --database audit`)"
            )
        try:
            report = mirror_backfill(records=DynamoStore().deployment_records(), using="audit")
        except StorageError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(
                f"the audit database (AUDIT_DATABASE_URL) refused the copy: {exc}"
            ) from exc
        self.stdout.write(report.line())
