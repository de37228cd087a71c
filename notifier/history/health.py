"""Is the service keeping up: the poller's lag, and what is waiting to be sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from notifier import storage
from notifier.health import PollHealth, poll_health_now
from notifier.storage.base import HistoryReader, Store


def poller_health(*, store: Store | None = None, now: datetime | None = None) -> PollHealth:
    """Is the poller keeping up? See notifier.health. Raises StorageError when the store
    cannot be read."""
    store = store or storage.get_store()
    return poll_health_now(state=store.poll_state_get(), now=now or timezone.now())


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
