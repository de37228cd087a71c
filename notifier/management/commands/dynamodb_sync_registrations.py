from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from notifier.storage.base import StorageError
from registrations.services import registrations_sync


class Command(BaseCommand):
    help = (
        "Write every registration to the DynamoDB registrations table again, remove the ones "
        "that no longer exist here, and report each difference found."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="only report the differences; change nothing"
        )

    def handle(self, *args, dry_run=False, **options):
        try:
            report = registrations_sync(dry_run=dry_run)
        except StorageError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
        if dry_run:
            self.stdout.write("dry run: nothing was written")
