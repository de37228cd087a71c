"""Is the service keeping up: the poller's lag, and what is waiting to be sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from notifier import storage
from notifier.storage.base import HistoryReader, PollState, Store


@dataclass(frozen=True)
class PollerHealth:
    healthy: bool
    state: PollState
    lag_seconds: float | None  # since the last successful cycle
    allowed_seconds: float


def poller_health(*, store: Store | None = None, now: datetime | None = None) -> PollerHealth:
    """Is the poller keeping up? Healthy while its last success is recent enough.

    Raises StorageError when the store cannot be read.
    """
    store = store or storage.get_store()
    state = store.poll_state_get()
    now = now or timezone.now()
    allowed = max(120.0, settings.NOTIFIER_POLL_INTERVAL * 10)
    lag = (now - state.last_success).total_seconds() if state.last_success else None
    return PollerHealth(
        healthy=lag is not None and lag <= allowed,
        state=state,
        lag_seconds=lag,
        allowed_seconds=allowed,
    )


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
