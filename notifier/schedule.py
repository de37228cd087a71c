"""The poll schedule, as data: created idempotently, never duplicated."""

from __future__ import annotations

from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

SCHEDULE_NAME = "codedeploy-poll"


def schedule_ensure() -> tuple[Schedule, bool]:
    """Create or update the schedule that starts the poll loop every minute, due now.

    The loop itself runs NOTIFIER_LOOP_SECONDS (longer than the minute, since django-q2's
    scheduler wakes only about every 30 s) and hands over to the next run through the poll
    lease, so polling never pauses and two loops never poll at once.
    """
    return Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "notifier.tasks.poll_loop",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def poll_loop_start_now() -> str:
    """Queue one polling loop now, so polling starts with the cluster rather than at the
    scheduler's first wake-up (up to 30 s later). The poll lease makes an extra loop harmless.
    """
    return async_task("notifier.tasks.poll_loop", task_name="codedeploy-poll (start-up)")
