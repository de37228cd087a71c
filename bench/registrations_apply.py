"""Cost of registrations as code: applying a document of N registrations (3 setups each) to an
empty database, applying it again (no changes), a dry run with one change, and exporting.
Runs on a throwaway SQLite file, or on DATABASE_URL with --database-url.

    .venv/bin/python bench/registrations_apply.py [--registrations 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registrations", type=int, default=200)
    parser.add_argument("--database-url", help="default: a throwaway SQLite file")
    args, _ = parser.parse_known_args()
    folder = tempfile.TemporaryDirectory()
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{folder.name}/bench.sqlite3"
    os.environ.pop("AUDIT_DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifier.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from registrations.apply import registrations_apply
    from registrations.as_code import document_entries, document_load, registrations_export

    call_command("migrate", verbosity=0)
    count = args.registrations
    entries = [
        {
            "codedeploy_application_name": f"app-{n:04d}",
            "notifications": [
                {"newrelic_notification": {"application_name": f"app-{n}"}},
                {"slack_notification": {"bot_token": f"xoxb-{n:08d}-token", "channel": "#ops"}},
                {"pagerduty_notification": {"routing_key": f"{n:032d}"}},
            ],
        }
        for n in range(count)
    ]

    text = ""

    def timed(label: str, work) -> None:
        started = time.perf_counter()
        report = work()
        elapsed = time.perf_counter() - started
        summary = report.lines()[-1] if hasattr(report, "lines") else f"{len(text)} bytes of YAML"
        print(
            f"{label:<34} {elapsed:7.2f} s  {elapsed / count * 1000:6.1f} ms/registration"
            f"  ({summary})"
        )

    timed("apply to an empty database", lambda: registrations_apply(entries=entries))
    timed("apply again (no changes)", lambda: registrations_apply(entries=entries))
    changed = [dict(e) for e in entries]
    changed[0] = {**changed[0], "enabled": False}
    timed("dry run with one change", lambda: registrations_apply(entries=changed, dry_run=True))
    text, _ = registrations_export()
    timed("export", registrations_export)
    timed("read the exported YAML", lambda: document_entries(document_load(text)))
    folder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
