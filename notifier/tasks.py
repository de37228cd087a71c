"""django-q2 entry points, referred to by dotted path. They only call the engine."""

from __future__ import annotations

from notifier.loop import service_loop_run


def poll_loop() -> int:
    """The scheduled task (its name is kept: schedules in databases refer to it)."""
    return service_loop_run()
