"""Events x setups -> claim -> send -> record, and the retry policy.

All bookkeeping for every channel happens here: timing, the attempt record, backoff,
marking a delivery dead. Channels only render and send.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from channels.base import ChannelError, Delivery, ErrorCode, SendContext
from channels.registry import module_for
from notifier.events import TERMINAL_EVENTS, DeploymentEvent, Event
from notifier.storage.base import (
    DEAD,
    DELIVERED,
    FAILED,
    PENDING,
    SUPERSEDED,
    AttemptOutcome,
    Claim,
    DeliveryKey,
    Store,
)
from notifier.storage.base import Delivery as StoredDelivery
from registrations.models import NotificationSetup, Registration

log = logging.getLogger(__name__)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential."""
    delay = min(settings.NOTIFIER_RETRY_MAX, settings.NOTIFIER_RETRY_BASE * 2 ** (attempt - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.NOTIFIER_RETRY_MAX))
    return delay


@dataclass(frozen=True)
class SendResult:
    started_at: datetime
    latency_ms: int
    sent: Delivery | None = None
    error: ChannelError | None = None


def send_once(
    event: DeploymentEvent, setup: NotificationSetup, *, context: SendContext | None = None
) -> SendResult:
    """Send once through the setup's channel, timed; channel failures come back as `error`.

    Used for ledger deliveries (`context` carries the delivery's id) and for test sends,
    which never touch the ledger (no context: a fresh test id).
    """
    started_at = timezone.now()
    began = time.monotonic()
    sent = error = None
    context = context or SendContext.for_test()
    try:
        sent = module_for(setup.kind).send(event, setup.typed(), context)
    except ChannelError as exc:
        error = exc
    except Exception as exc:  # a bug in a channel must not kill the sender
        log.exception("channel %s crashed", setup.kind)
        error = ChannelError(
            f"internal error in the {setup.kind} channel: {exc}",
            code=ErrorCode.INTERNAL,
            retryable=True,
        )
    return SendResult(
        started_at=started_at,
        latency_ms=int((time.monotonic() - began) * 1000),
        sent=sent,
        error=error,
    )


def outcome_for(result: SendResult, *, attempt: int) -> AttemptOutcome:
    """The ledger outcome of one attempt, applying the retry policy to failures."""
    if result.error is None:
        sent = result.sent
        return AttemptOutcome(
            state=DELIVERED,
            started_at=result.started_at,
            latency_ms=result.latency_ms,
            response_status=sent.response_status if sent else None,
            detail=sent.detail if sent else "",
        )
    error = result.error
    common = {
        "started_at": result.started_at,
        "latency_ms": result.latency_ms,
        "response_status": error.response_status,
        "error_code": error.code.value,
    }
    if error.retryable and attempt < settings.NOTIFIER_MAX_ATTEMPTS:
        next_at = timezone.now() + timedelta(seconds=retry_delay(attempt, error.retry_after))
        return AttemptOutcome(state=PENDING, error=error.message, next_attempt_at=next_at, **common)
    if error.retryable:
        return AttemptOutcome(
            state=DEAD, error=f"{error.message} (gave up after {attempt} attempts)", **common
        )
    return AttemptOutcome(state=FAILED, error=error.message, **common)


def delivery_send(
    key: DeliveryKey, *, store: Store, holder: str, stopping: Callable[[], bool] | None = None
) -> str | None:
    """Claim one delivery and send it. Returns the new state, or None if not claimed (or,
    when `stopping()` turned true before the send began, or an earlier send of the same
    deployment and setup was still in flight, claimed and given back)."""
    claimed_at = timezone.now()
    claim = store.delivery_claim(
        key, holder=holder, lease_seconds=settings.NOTIFIER_CLAIM_LEASE, now=claimed_at
    )
    if claim is None:
        return None
    if stopping is not None and stopping():
        store.delivery_release(claim)
        return None
    setup = NotificationSetup.objects.filter(pk=key.setup_id).first()
    siblings = siblings_settled(
        key,
        store=store,
        events=related_events(key, setup),
        claimed_at=claim.in_flight_since or claimed_at,
        wait=settings.NOTIFIER_CLAIM_LEASE / 2,
    )
    if siblings is None:  # still in flight: due again, for whoever claims it next
        store.delivery_release(claim)
        return None
    outcome = _attempt(key, claim=claim, store=store, setup=setup, siblings=siblings)
    recorded = store.delivery_record(claim, outcome)
    log_fn = log.info if outcome.state in (DELIVERED, PENDING, SUPERSEDED) else log.warning
    log_fn(
        "delivery %s attempt %d: %s%s%s",
        key,
        claim.attempt,
        outcome.state,
        f" - {outcome.error}" if outcome.error else "",
        "" if recorded else " (lease lost; outcome not recorded)",
    )
    return outcome.state


def _attempt(
    key: DeliveryKey,
    *,
    claim: Claim,
    store: Store,
    setup: NotificationSetup | None,
    siblings: list[StoredDelivery],
) -> AttemptOutcome:
    """Send the claimed delivery (or decide not to) and say how it went."""
    outcome_event = superseded_by(key, siblings)
    if setup is None or not setup.enabled:
        why = "deleted" if setup is None else "disabled"
        return AttemptOutcome(
            state=FAILED,
            started_at=timezone.now(),
            latency_ms=0,
            error=f"the notification setup was {why} before sending",
            error_code=ErrorCode.SETUP_DISABLED.value,
        )
    if outcome_event is not None:
        return AttemptOutcome(
            state=SUPERSEDED,
            started_at=timezone.now(),
            latency_ms=0,
            error=f"Superseded: the deployment had already {outcome_event} when this was due",
            error_code=ErrorCode.SUPERSEDED.value,
        )
    delivery = store.delivery_get(key)
    # The same id on every attempt; a claim that takes over from a sender that died mid-send
    # says so, and the channel checks with the provider where it can (see SendContext).
    context = SendContext(delivery_id=key.delivery_id, in_flight_since=claim.in_flight_since)
    return outcome_for(send_once(delivery.event, setup, context=context), attempt=claim.attempt)


# --- one deployment's notifications to one setup never contradict each other ----------------
NON_TERMINAL_EVENTS = frozenset({Event.STARTED.value, Event.READY.value})


def related_events(key: DeliveryKey, setup: NotificationSetup | None) -> list[str]:
    """The events whose deliveries to the same setup this one must not contradict: for an
    outcome, started and ready; for started or ready, every other. Only those the setup
    hears (others were never created), so a setup hearing one event reads nothing more."""
    heard = set(setup.events or []) if setup is not None else set()
    related = NON_TERMINAL_EVENTS if key.event in TERMINAL_EVENTS else {e.value for e in Event}
    return [e.value for e in Event if e.value in heard & related and e.value != key.event]


def _siblings(key: DeliveryKey, *, store: Store, events: list[str]) -> list[StoredDelivery]:
    """The deliveries of the same deployment to the same setup for `events`."""
    keys = (DeliveryKey(key.deployment_id, event, key.setup_id) for event in events)
    return [d for k in keys if (d := store.delivery_get(k)) is not None]


def superseded_by(key: DeliveryKey, siblings: list[StoredDelivery]) -> str | None:
    """The terminal event already delivered to the setup that makes this started or ready
    notification news after the fact (it is then recorded as superseded, not sent), or None."""
    if key.event not in NON_TERMINAL_EVENTS:
        return None
    for sibling in siblings:
        if sibling.key.event in TERMINAL_EVENTS and sibling.state == DELIVERED:
            return sibling.key.event
    return None


def _sent_first(sibling: StoredDelivery, *, key: DeliveryKey, claimed_at: datetime) -> bool:
    """Whether the sibling's send in flight began before this claim (at the same instant, a
    started or ready goes before the outcome): this one then waits for it."""
    since = sibling.sending_since
    if since is None:
        return False
    tie_goes_first = sibling.key.event in NON_TERMINAL_EVENTS and key.event in TERMINAL_EVENTS
    return since < claimed_at or (since == claimed_at and tie_goes_first)


def siblings_settled(
    key: DeliveryKey, *, store: Store, events: list[str], claimed_at: datetime, wait: float
) -> list[StoredDelivery] | None:
    """Wait, up to `wait` seconds, for the sends of the same deployment to the same setup that
    began before this claim (on any node: the ledger's in-flight marks say so), so the
    provider hears them in order and the outcome is its last word. Returns the siblings as
    they then stand, or None when one is still in flight."""
    if not events:
        return []
    deadline = time.monotonic() + wait
    while True:
        siblings = _siblings(key, store=store, events=events)
        if not any(_sent_first(s, key=key, claimed_at=claimed_at) for s in siblings):
            return siblings
        if time.monotonic() >= deadline:
            return None
        time.sleep(SIBLING_POLL_SECONDS)


SIBLING_POLL_SECONDS = 0.05


def setups_hearing(registration: Registration, event: DeploymentEvent) -> list[NotificationSetup]:
    return [
        s for s in registration.setups.all() if s.hears(event.event.value, event.deployment_group)
    ]


def deliveries_create(
    event: DeploymentEvent, setups: Iterable[NotificationSetup], *, store: Store
) -> list[DeliveryKey]:
    created = []
    for setup in setups:
        key = DeliveryKey(event.deployment_id, event.event.value, setup.pk)
        if store.delivery_create(key, kind=setup.kind, event=event):
            created.append(key)
    return created


class Dispatcher:
    """Sends due deliveries on a pool of NOTIFIER_SEND_THREADS threads, so one slow channel
    never delays another. Once `stopping()` is true it starts no more sends: a delivery it
    queued but has not claimed stays due for any sender, and one it claimed but has not
    started sending is given back (Store.delivery_release)."""

    def __init__(
        self,
        *,
        store: Store,
        holder: str,
        threads: int | None = None,
        stopping: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.holder = holder
        self.stopping = stopping or (lambda: False)
        self.executor = ThreadPoolExecutor(
            max_workers=threads or settings.NOTIFIER_SEND_THREADS, thread_name_prefix="send"
        )
        self.in_flight: set[DeliveryKey] = set()
        self.busy = 0  # sends running now
        self._lock = threading.Lock()

    def _run(self, key: DeliveryKey) -> None:
        with self._lock:
            self.busy += 1
        try:
            if not self.stopping():
                delivery_send(key, store=self.store, holder=self.holder, stopping=self.stopping)
        except Exception:
            # A storage outage: the claim's lease expires and the delivery is retried.
            log.exception("could not send %s; it will be retried", key)
        finally:
            with self._lock:
                self.busy -= 1
            self.in_flight.discard(key)
            close_old_connections()

    def dispatch_due(self) -> int:
        started = 0
        for key in self.store.deliveries_due(limit=200):
            if self.stopping():
                break
            if key in self.in_flight:
                continue
            self.in_flight.add(key)
            self.executor.submit(self._run, key)
            started += 1
        return started

    def close(self) -> None:
        """Wait for the sends that started; those only queued are dropped, still due."""
        self.executor.shutdown(wait=True, cancel_futures=True)
