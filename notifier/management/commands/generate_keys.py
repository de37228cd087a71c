"""manage.py generate_keys: a fresh DJANGO_SECRET_KEY and NOTIFIER_ENCRYPTION_KEY.

It runs before the settings load (manage.py hands it `main()` directly), because the settings
refuse to load without the keys it makes: on a fresh machine with nothing set it works.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from notifier.keys import keys_env_text, keys_file_create, keys_generate


class Command(BaseCommand):
    help = (
        "Print a fresh DJANGO_SECRET_KEY and NOTIFIER_ENCRYPTION_KEY as KEY=value lines for an "
        "env file; with --file, write them to that file (mode 0600) unless it already exists. "
        "Needs no settings and no keys."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--file",
            type=Path,
            help="Write the keys to this file, readable by its owner only, and print nothing "
            "secret. An existing file is kept as it is (its keys may already encrypt stored "
            "secrets). Point NOTIFIER_KEYS_FILE at it.",
        )

    def handle(self, *args, file: Path | None = None, **options):
        if file is None:
            self.stdout.write(keys_env_text(keys=keys_generate()), ending="")
            return
        try:
            created = keys_file_create(path=file)
        except OSError as exc:
            raise CommandError(f"--file {file}: cannot write the keys there: {exc}") from None
        if created:
            self.stdout.write(f"wrote new keys to {file} (mode 0600)")
        else:
            self.stdout.write(f"{file} already exists; keeping it")


def main(argv: list[str]) -> int:
    """`manage.py generate_keys ...` without Django's settings (see the module docstring)."""
    command = Command()
    parser = command.create_parser(argv[0], argv[1])
    options = vars(parser.parse_args(argv[2:]))
    options.pop("args", None)
    try:
        command.execute(**options)
    except CommandError as exc:
        sys.stderr.write(f"CommandError: {exc}\n")
        return 1
    return 0
