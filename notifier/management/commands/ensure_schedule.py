from __future__ import annotations

from django.core.management.base import BaseCommand

from notifier.schedule import poll_loop_start_now, schedule_ensure
from registrations.sources import source_default


class Command(BaseCommand):
    help = (
        "Create or update the django-q2 schedule that runs the CodeDeploy poll loop, and make "
        "sure the default source (the service's own AWS account) exists."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--start-now",
            action="store_true",
            help="also queue a polling loop to run as soon as a cluster is up",
        )

    def handle(self, *args, start_now=False, **options):
        source = source_default()
        region = source.region or "boto3's own region (AWS_REGION)"
        self.stdout.write(f"Default source {source.name!r}: the service's credentials, {region}")
        schedule, created = schedule_ensure()
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} schedule {schedule.name!r}: {schedule.func} every "
            f"{schedule.minutes} minute(s), next run {schedule.next_run:%H:%M:%S}"
        )
        if start_now:
            poll_loop_start_now()
            self.stdout.write("Queued a polling loop to start with the cluster")
