"""Push: consume the SQS queues EventBridge puts CodeDeploy's events on.

Every node's service loop (notifier.loop) runs one consumer thread per distinct queue URL of
the enabled sources (several sources may share one central queue). A queue is read with the
credentials of an own-credentials source among those naming it, else of the first by name.
Each consumer long-polls (`ReceiveMessage`, NOTIFIER_PUSH_WAIT_SECONDS, up to 10 messages),
stores what the batch says (notifier.push_batch: deployments, then deliveries), THEN deletes
the batch's messages, and wakes the loop so the dispatcher sends at once.

Several consumers at once, no lease: every node consumes every queue. SQS hands each message
to one receiver at a time, and the ledger's keys make each (deployment, event, setup) one
delivery however many consumers, or redeliveries, see it; a terminal deployment state is never
replaced by a running one (Store.deployment_save). So there is no failover delay: a node that
dies leaves its messages to the others when their visibility timeout ends. A consumer that
dies after storing but before deleting has its messages redelivered, and they send nothing
twice. Messages not acted on (malformed, another detail-type, an unknown account, an
unregistered application...) are counted by reason (Store.push_stats_add), logged once per
reason and deleted.

Stopping: a consumer stops receiving; messages it received but had not started storing are
given back (`ChangeMessageVisibility` to 0) so another node takes them at once. The loop never
waits for a long poll: the thread ends when its receive returns. A failed receive is recorded
in words and retried after a backoff of 1 s, doubling to 30 s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from notifier.push_batch import PushBatch
from notifier.sources import CLIENT_LOCK, SourceConfig, SourceError, boto3_session_for
from notifier.storage.base import StorageError, Store
from registrations.sources import Source

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0
# The read timeout outlasts the longest long poll (20 s).
SQS_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30
)
PERMISSIONS = "sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility"
# How long a stopping loop waits for a batch being stored (not for a receive).
STORE_WAIT_SECONDS = 10.0


def queue_readers(configs: list[SourceConfig]) -> dict[str, SourceConfig]:
    """Each distinct queue URL of `configs` (the enabled sources) with the source whose
    credentials read it: an own-credentials source naming it, else the first by name."""
    readers: dict[str, SourceConfig] = {}
    for config in sorted((c for c in configs if c.queue_url), key=lambda c: c.name):
        current = readers.get(config.queue_url)
        if current is None or (current.role_arn and not config.role_arn):
            readers[config.queue_url] = config
    return readers


def describe_receive_error(exc: Exception, queue_url: str) -> str:
    """A failed receive in words a person can act on; never a credential."""
    if isinstance(exc, SourceError):
        return str(exc)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        operation = exc.operation_name
        if "AccessDenied" in code or code == "UnauthorizedOperation":
            return (
                f"AWS denied sqs:{operation} on {queue_url}: add {PERMISSIONS} on this queue "
                "to the IAM policy of the service's role (docs/push.md)"
            )
        if "NonExistentQueue" in code or code == "QueueDoesNotExist":
            return (
                f"the push queue {queue_url} does not exist: correct the source's queue URL, "
                "or create the queue and its EventBridge rule (docs/push.md)"
            )
        return f"sqs:{operation} on {queue_url} failed with {code}: {message}"
    if isinstance(exc, BotoCoreError):
        return f"could not reach SQS for {queue_url}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _oldest_age(messages: list[dict[str, Any]], now: datetime) -> float | None:
    sent = [
        int(m["Attributes"]["SentTimestamp"])
        for m in messages
        if str(m.get("Attributes", {}).get("SentTimestamp", "")).isdigit()
    ]
    return max(0.0, now.timestamp() - min(sent) / 1000) if sent else None


def enabled_sources() -> list[SourceConfig]:
    return [source.config() for source in Source.objects.filter(enabled=True)]


class QueueConsumer:
    """One thread consuming one queue, read as `reader`; `wake()` is called after a batch
    created work. `stop` never waits; `settle` waits only for a batch being stored."""

    def __init__(self, reader: SourceConfig, *, store: Store, wake=lambda: None) -> None:
        self.reader, self.queue_url, self.store, self.wake = reader, reader.queue_url, store, wake
        self.batch = PushBatch(queue_url=self.queue_url, store=store)
        self._stop = threading.Event()
        self._storing = threading.Lock()
        self._client: Any = None
        self._last_error = ""
        self._logged_reasons: set[str] = set()
        self.thread = threading.Thread(target=self._run, name="push-consumer", daemon=True)

    def start(self) -> QueueConsumer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def settle(self, timeout: float = STORE_WAIT_SECONDS) -> None:
        """After `stop`: wait for a batch being stored (never for a receive)."""
        if self._storing.acquire(timeout=timeout):
            self._storing.release()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def client(self) -> Any:
        if self._client is None:
            with CLIENT_LOCK:
                self._client = boto3_session_for(self.reader).client("sqs", config=SQS_CONFIG)
        return self._client

    def _run(self) -> None:
        delay = 0.0
        try:
            while not self._stop.is_set():
                try:
                    self.receive_once()
                    delay = 0.0
                except (ClientError, BotoCoreError, SourceError, StorageError) as exc:
                    if self._stop.is_set():
                        break  # its receive failed as it was stopping: nothing to record
                    delay = min(BACKOFF_MAX, max(BACKOFF_FIRST, delay * 2))
                    self._failed(exc)
                    self._stop.wait(delay)
                except Exception:  # a bug must not end push for good
                    if self._stop.is_set():
                        break
                    log.exception("push queue %s: unexpected error", self.queue_url)
                    delay = BACKOFF_MAX
                    self._stop.wait(delay)
                finally:
                    close_old_connections()
        finally:
            connections.close_all()  # this thread's own

    def receive(self) -> list[dict[str, Any]]:
        answer = self.client().receive_message(
            QueueUrl=self.queue_url,
            WaitTimeSeconds=settings.NOTIFIER_PUSH_WAIT_SECONDS,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
        )
        return answer.get("Messages", [])

    def receive_once(self) -> None:
        """One receive, and the batch it brings stored, deleted and counted."""
        messages = self.receive()
        with self._storing:
            if self._stop.is_set():
                self.give_back(messages)
                return
            self.handle(messages)

    def handle(self, messages: list[dict[str, Any]]) -> None:
        """Store what `messages` say, then delete those done with, and count the receive."""
        now = timezone.now()
        sources = enabled_sources() if messages else []
        outcome = self.batch.handle(messages, sources=sources, now=now)
        if outcome.done:
            self.delete(outcome.done)
        for reason in set(outcome.ignored) - self._logged_reasons:
            self._logged_reasons.add(reason)
            log.info("push queue %s: ignoring messages (%s)", self.queue_url, reason)
        if outcome.error and outcome.error != self._last_error:
            log.warning("push queue %s: %s", self.queue_url, outcome.error)
        self._last_error = outcome.error
        self.store.push_stats_add(
            self.queue_url,
            at=now,
            received=len(messages),
            acted=outcome.acted,
            ignored=dict(outcome.ignored),
            oldest_age_seconds=_oldest_age(messages, now),
            error=outcome.error,
        )
        if outcome.acted:
            self.wake()

    def delete(self, messages: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
        ]
        for start in range(0, len(entries), 10):
            self.client().delete_message_batch(
                QueueUrl=self.queue_url, Entries=entries[start : start + 10]
            )

    def give_back(self, messages: list[dict[str, Any]]) -> None:
        """Make `messages` visible again at once, for another receiver."""
        if not messages:
            return
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(messages)
        ]
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client().change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, StorageError):
            message = f"could not store push results, will retry: {exc}"
        else:
            message = describe_receive_error(exc, self.queue_url)
        if message != self._last_error:  # once per new error, not every retry
            log.warning("push queue %s: %s", self.queue_url, message)
        self._last_error = message
        with contextlib.suppress(StorageError):
            self.store.push_stats_add(self.queue_url, at=timezone.now(), error=message)


class PushConsumers:
    """The consumers of one service loop: `update` each turn with the enabled sources;
    `wake_fd` turns readable when a consumer stored work; `close` when the loop ends."""

    def __init__(self, *, store: Store) -> None:
        self.store = store
        self.consumers: dict[str, QueueConsumer] = {}
        self.wake_fd, self._wake_write = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._wake_write, False)
        self._lock = threading.Lock()  # guards `_closed`: no write to a closed pipe
        self._closed = False

    def _wake(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            if not self._closed:
                os.write(self._wake_write, b"w")

    def update(self, configs: list[SourceConfig]) -> None:
        """Start, restart or stop consumers so each queue of `configs` has one, read with
        its reader's credentials (a changed reader or role restarts it)."""
        with contextlib.suppress(BlockingIOError):
            os.read(self.wake_fd, 4096)
        readers = queue_readers(configs)
        for url, consumer in list(self.consumers.items()):
            ended = not consumer.thread.is_alive()
            if url not in readers or readers[url] != consumer.reader or ended:
                consumer.stop()
                del self.consumers[url]
        for url, reader in readers.items():
            if url not in self.consumers:
                consumer = QueueConsumer(reader, store=self.store, wake=self._wake)
                self.consumers[url] = consumer.start()

    def close(self) -> None:
        """Stop every consumer; wait only for batches being stored."""
        for consumer in self.consumers.values():
            consumer.stop()
        deadline = time.monotonic() + STORE_WAIT_SECONDS
        for consumer in self.consumers.values():
            consumer.settle(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._closed = True
            os.close(self.wake_fd)
            os.close(self._wake_write)
