from __future__ import annotations

from django.core.management.base import BaseCommand

from notifier.schedule import schedule_ensure


class Command(BaseCommand):
    help = "Create or update the django-q2 schedule that runs the CodeDeploy poll loop."

    def handle(self, *args, **options):
        schedule, created = schedule_ensure()
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} schedule {schedule.name!r}: {schedule.func} every "
            f"{schedule.minutes} minute(s), next run {schedule.next_run:%H:%M:%S}"
        )
