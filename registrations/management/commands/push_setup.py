from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from registrations.push import DOCS, PushSetupError, push_setup
from registrations.push_template import push_template
from registrations.sources import Source


class Command(BaseCommand):
    help = (
        "Set push up for a source: in its account and region, with its credentials, create or "
        "keep an SQS queue (and dead-letter queue), an EventBridge rule for CodeDeploy's "
        "events targeting it and the queue policy, then set the source's queue_url. Safe to "
        f"run again. --print prints a CloudFormation template instead. See {DOCS}."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help="the source's name, e.g. prod-eu")
        parser.add_argument(
            "--queue-name", default="", help="the queue's name (default codedeploy-notifier-SOURCE)"
        )
        parser.add_argument(
            "--print",
            action="store_true",
            dest="print_template",
            help="print a CloudFormation template doing the same; make no AWS call",
        )

    def handle(self, *args, source, queue_name="", print_template=False, **options):
        found = Source.objects.filter(name=source).first()
        if found is None:
            names = ", ".join(Source.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"--source: no source is named {source!r} (sources: {names})")
        try:
            if print_template:
                template = push_template(source_name=found.name, queue_name=queue_name)
                self.stdout.write(json.dumps(template, indent=2))
                return
            result = push_setup(source=found, queue_name=queue_name, report=self.stdout.write)
        except PushSetupError as exc:
            raise CommandError(str(exc)) from exc
        done = "set up" if result.changed else "already set up, nothing changed"
        self.stdout.write(
            f"push for source {found.name} is {done}: CodeDeploy's events reach "
            f"{result.queue_url} within seconds of each change and the service sends "
            "notifications within a second of receiving them; polling goes on as reconciliation "
            "(NOTIFIER_RECONCILE_INTERVAL). /status/ shows the queue's receives after the next "
            "deployment."
        )
