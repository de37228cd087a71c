"""django-q2 entry points, referred to by dotted path. They only call the engine."""

from __future__ import annotations

from notifier.poller import poll_loop as _poll_loop


def poll_loop() -> int:
    return _poll_loop()
