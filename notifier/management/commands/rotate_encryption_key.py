from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from channels.key_rotation import secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (webhook URLs, tokens, routing keys, HMAC secrets, "
        "headers) with the FIRST key in NOTIFIER_ENCRYPTION_KEY. To rotate: put a new key "
        "first and keep the old one after it (NEW,OLD), restart the service, run this, then "
        "drop the old key. Safe to run again, and after an interruption."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Rows read at a time; a progress line is shown after each batch (500).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            help="Stop after rewriting this many rows (to try it on a few first).",
        )

    def handle(self, *args, batch_size: int, limit: int | None, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        results = secrets_rotate(batch_size=batch_size, limit=limit, progress=self.stdout.write)
        for result in results:
            self.stdout.write(result.summary())
        unreadable = [item for result in results for item in result.unreadable]
        for item in unreadable:
            self.stderr.write(
                f"{item}: no key in NOTIFIER_ENCRYPTION_KEY decrypts it; left as it is"
            )
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} stored secret(s) could not be decrypted with any key in "
                "NOTIFIER_ENCRYPTION_KEY and were left as they are (listed above): the key "
                "that encrypted them is missing. Add it to NOTIFIER_ENCRYPTION_KEY after the "
                "new key and run this again, or enter those secrets again in the admin."
            )
        if limit is not None and sum(r.rows_rewritten for r in results) >= limit:
            self.stdout.write(
                f"Stopped after rewriting {limit} row(s) (--limit): run it again to finish."
            )
        elif not any(result.reencrypted for result in results):
            self.stdout.write(
                "Nothing to do: every stored secret is already encrypted with the first key."
            )
        else:
            total = sum(result.reencrypted for result in results)
            self.stdout.write(
                f"Re-encrypted {total} secret(s) with the first key in NOTIFIER_ENCRYPTION_KEY. "
                "Once every node runs with it first, the other keys can be removed."
            )
