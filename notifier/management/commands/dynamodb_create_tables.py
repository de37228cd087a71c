from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notifier.storage.base import StorageError
from notifier.storage.dynamodb import DynamoStore
from registrations.storage import RegistrationTable


class Command(BaseCommand):
    help = (
        "Create the DynamoDB tables the dynamodb store needs (those missing; on-demand "
        "capacity) and turn on TTL for old ledger items. Safe to run again: it says what it "
        "did and what existed already. Table names start with NOTIFIER_DYNAMODB_TABLE_PREFIX."
    )

    def handle(self, *args, **options):
        prefix = settings.NOTIFIER_DYNAMODB_TABLE_PREFIX
        try:
            lines = DynamoStore(prefix=prefix).tables_ensure()
            lines += RegistrationTable(prefix=prefix).table_ensure()
        except StorageError as exc:
            raise CommandError(str(exc)) from exc
        for line in lines:
            self.stdout.write(line)
        created = sum(line.startswith("created") for line in lines)
        self.stdout.write(
            self.style.SUCCESS(
                f"DynamoDB tables with prefix {prefix!r} are ready ({created} created)"
            )
        )
