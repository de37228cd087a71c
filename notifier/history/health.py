"""Is the service keeping up: the poller's lag, and what is waiting to be sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone

from notifier import storage
from notifier.health import PollHealth, poll_health_now, poll_health_read, sources_health
from notifier.storage.base import DEFAULT_SOURCE, HistoryReader, Store
from registrations.sources import Source


def polled_source_names() -> list[str]:
    """The names of the sources the service polls: the enabled ones, the default first (and
    the default's name while its row is not created yet: it is polled all the same)."""
    rows = list(Source.objects.values_list("name", "enabled", "is_default"))
    names = [name for name, enabled, _ in rows if enabled]
    if not any(is_default for _, _, is_default in rows):
        names.insert(0, DEFAULT_SOURCE)
    return names


def pushed_source_names() -> frozenset[str]:
    """The enabled sources with a push queue: polled only to reconcile, so their polls are
    as far apart as NOTIFIER_RECONCILE_INTERVAL without being late."""
    rows = Source.objects.filter(enabled=True).exclude(queue_url="")
    return frozenset(rows.values_list("name", flat=True))


def poller_health(*, store: Store | None = None, now: datetime | None = None) -> PollHealth:
    """Is polling keeping up, for every enabled source? See notifier.health. Raises
    StorageError when the store cannot be read."""
    store = store or storage.get_store()
    states = {name: store.poll_state_get(source=name) for name in polled_source_names()}
    return sources_health(states=states, now=now or timezone.now(), pushed=pushed_source_names())


def healthz_health() -> PollHealth:
    """/healthz's answer: every enabled source's polling, read through the health store
    (one short try); a database or store that cannot be read is "storage" failing."""
    try:
        names, pushed = polled_source_names(), pushed_source_names()
    except DatabaseError as exc:
        return poll_health_now(state=None, now=timezone.now(), storage_error=str(exc))
    return poll_health_read(store=storage.get_health_store(), sources=names, pushed=pushed)


@dataclass(frozen=True)
class QueueDepth:
    pending_deliveries: int | None
    pending_note: str
    task_queue: int | None
    task_queue_note: str


def queue_depth(*, reader: HistoryReader | None = None) -> QueueDepth:
    """Notifications waiting to be sent, and tasks waiting in django-q2's queue."""
    pending = (reader or storage.get_history_reader()).pending_count()
    try:
        # Imported here (not to break a cycle): a broken task-queue configuration fails this
        # import, and is then reported on the page instead of failing every page.
        from django_q.brokers import get_broker

        tasks, task_note = get_broker().queue_size(), "tasks waiting for a worker"
    except Exception as exc:  # the broker (Redis or the database) is unreachable
        tasks, task_note = None, f"the task queue could not be read: {exc}"
    return QueueDepth(pending.count, pending.note, tasks, task_note)
