#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["generate_keys"]:
        # Before the settings: they refuse to load without the keys this command makes.
        from notifier.management.commands.generate_keys import main

        sys.exit(main(sys.argv))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifier.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
