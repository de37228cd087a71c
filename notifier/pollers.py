"""Every enabled source polled on its own, concurrently, at its own pace.

The service loop (notifier.loop) asks `SourcePollers.start_due` each turn to start a cycle of
every enabled source that is due and not already polling, each as one task on a small thread
pool (NOTIFIER_POLL_THREADS) under the source's own lease (`poll_lease_name`), so two nodes
never poll one source at once while any number of sources are polled at once. A source whose
cycle has not ended (a hung or throttled endpoint, a role that takes long to assume) is simply
not due: the loop never waits for it, and the other sources are started as they fall due.

Adaptive polling: a source is due again NOTIFIER_POLL_INTERVAL after the start of a cycle
that left it busy (notifier.poller.source_is_busy: deployments running, or one created in the
last NOTIFIER_BUSY_WINDOW), and NOTIFIER_IDLE_POLL_INTERVAL after one that left it idle. A
failed cycle keeps the interval the source had. A source with a push queue (notifier.push)
is polled only every NOTIFIER_RECONCILE_INTERVAL, to reconcile: CodeDeploy's EventBridge
events are delivered on a best-effort basis.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

from notifier import codedeploy, targets
from notifier.poller import deployment_poll, record_poll_error
from notifier.sources import CLIENT_LOCK, SourceConfig, boto3_session_for
from notifier.storage.base import StorageError, Store, poll_lease_name
from notifier.whodeployed import principals_lookup
from registrations.sources import Source, source_default

log = logging.getLogger(__name__)

# How long a stopping loop waits for cycles still running before it leaves them be (their
# leases then run out on their own).
STOP_WAIT_SECONDS = 5.0


def sources_polled() -> list[SourceConfig]:
    """The enabled sources, the default one first (created when missing, as it always is)."""
    source_default()
    return [source.config() for source in Source.objects.filter(enabled=True)]


@dataclass
class SourceSchedule:
    """One source's place in the loop: when it is due, its cycle in flight, its client."""

    config: SourceConfig
    interval: float
    due: float = 0.0  # time.monotonic()
    running: Future | None = None
    holding: bool = False
    client: Any = None
    targets_client: Any = None  # for where failed deployments broke (notifier.targets)
    counter: codedeploy.CallCounter = field(default_factory=codedeploy.CallCounter)
    last_error: str = ""

    @property
    def busy_polling(self) -> bool:
        return self.running is not None and not self.running.done()


class SourcePollers:
    """The per-source polling of one service loop; `close` when the loop ends."""

    def __init__(
        self, *, store: Store, holder: str, interval: float, idle_interval: float, threads: int
    ) -> None:
        self.store, self.holder = store, holder
        self.interval = interval
        self.idle_interval = max(interval, idle_interval)
        self.lease_seconds = max(10.0, interval * 5, self.idle_interval * 2)
        self.schedules: dict[str, SourceSchedule] = {}
        self.configs: list[SourceConfig] = []  # the enabled sources, as last read
        self.cycles = 0
        self.cycles_of: dict[str, int] = {}  # successful cycles by source name
        self._count = threading.Lock()  # guards `cycles` and `_closed`
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="poll-source")
        # A cycle that ends writes a byte here, so the loop wakes to send what it queued.
        self.done_fd, self._done_write = os.pipe()
        os.set_blocking(self.done_fd, False)
        os.set_blocking(self._done_write, False)

    def start_due(self) -> float:
        """Start a cycle of every enabled source that is due and not polling; return the
        seconds until the next source not polling is due. Raises the database's error when
        the sources cannot be read."""
        with contextlib.suppress(BlockingIOError):
            os.read(self.done_fd, 4096)
        self.configs = sources_polled()
        configs = {config.name: config for config in self.configs}
        for name in [n for n, s in self.schedules.items() if n not in configs]:
            self._forget(self.schedules.pop(name))  # disabled or deleted
        now = time.monotonic()
        for name, config in configs.items():
            schedule = self.schedules.setdefault(name, SourceSchedule(config, self.interval))
            if schedule.busy_polling:
                continue
            if schedule.config != config:  # its region or role changed
                schedule.config, schedule.client = config, None
                schedule.targets_client = None
            if schedule.due <= now:
                schedule.running = self._pool.submit(self._cycle, schedule)
        waiting = [s.due for s in self.schedules.values() if not s.busy_polling]
        return max(0.0, min(waiting) - time.monotonic()) if waiting else self.interval

    def _cycle(self, schedule: SourceSchedule) -> None:
        name, began = schedule.config.name, time.monotonic()
        started_at = timezone.now()
        try:
            schedule.holding = self.store.lease_acquire(
                poll_lease_name(name), self.holder, seconds=self.lease_seconds
            )
            if not schedule.holding:
                return  # another node polls this source now
            schedule.counter.reset()
            # Made inside the try: a missing region or credentials is reported on the
            # status page and retried, not a crash of the loop.
            if schedule.client is None:
                with CLIENT_LOCK:
                    session = boto3_session_for(schedule.config)
                    schedule.client = codedeploy.make_client(
                        counter=schedule.counter, session=session
                    )
                    schedule.targets_client = codedeploy.make_client(
                        counter=schedule.counter, session=session, config=targets.TARGETS_CONFIG
                    )
            report = deployment_poll(
                store=self.store,
                client=schedule.client,
                source=schedule.config,
                counter=schedule.counter,
                targets_client=schedule.targets_client,
            )
            with self._count:
                self.cycles += 1
                self.cycles_of[name] = self.cycles_of.get(name, 0) + 1
            schedule.interval = self._interval_after(schedule.config, busy=report.busy)
            schedule.last_error = ""
            if report.events:
                log.info("poll of source %r: %s", name, "; ".join(report.lines()[2:]))
            principals_lookup(self.store, schedule.config)  # who deployed, once CloudTrail says
        except StorageError as exc:
            log.warning("storage unavailable, will retry: %s", exc)
        except Exception as exc:
            message = record_poll_error(self.store, exc, started_at=started_at, source=name)
            if message != schedule.last_error:  # once per new error, not every cycle
                log.warning("poll of source %r failed: %s", name, message)
            schedule.last_error = message
        finally:
            schedule.due = began + schedule.interval
            connections.close_all()  # this thread's own
            with self._count, contextlib.suppress(OSError):
                if not self._closed:
                    os.write(self._done_write, b"d")

    def _interval_after(self, config: SourceConfig, *, busy: bool) -> float:
        if config.queue_url:  # pushed events come at once: polling only reconciles
            return settings.NOTIFIER_RECONCILE_INTERVAL
        return self.interval if busy else self.idle_interval

    def _forget(self, schedule: SourceSchedule) -> None:
        if schedule.holding and not schedule.busy_polling:
            with contextlib.suppress(StorageError):
                self.store.lease_release(poll_lease_name(schedule.config.name), self.holder)

    def close(self) -> None:
        """Wait a little for cycles in flight, release the leases of sources not polling,
        and let go of the threads (a hung cycle ends on its own; its lease runs out)."""
        running = [s.running for s in self.schedules.values() if s.busy_polling]
        if running:
            wait(running, timeout=STOP_WAIT_SECONDS)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for schedule in self.schedules.values():
            self._forget(schedule)
        with self._count:
            self._closed = True
            os.close(self.done_fd)
            os.close(self._done_write)
