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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from channels.base import ChannelError, Delivery, ErrorCode, SendContext
from channels.registry import module_for
from notifier.delivery_order import related_events, siblings_settled, superseded_by
from notifier.events import DeploymentEvent
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
from registrations.deployers import deployer_known
from registrations.models import NotificationSetup, Registration

log = logging.getLogger(__name__)

# Not a ledger state: delivery_send gave the claim back, the setup waits for who deployed.
WAITING = "waiting"


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


def _with_deployer(delivery, setup: NotificationSetup, *, wait: bool) -> tuple:
    """The delivery's event with its Deployer as known now, and what to note: WAITING while a
    setup that tells the person (wants_deployer) waits NOTIFIER_DEPLOYER_WAIT from the
    delivery's creation for CloudTrail to name them; after that, a note that it gave up."""
    deployer, known = deployer_known(delivery.event)
    event = replace(delivery.event, deployer=deployer)
    if known or not setup.wants_deployer():
        return event, ""
    waited = (timezone.now() - delivery.created_at).total_seconds()
    if wait and waited < settings.NOTIFIER_DEPLOYER_WAIT:
        return event, WAITING
    return event, f"person who deployed unknown after {waited:.0f} s; sent to the fixed recipients"


def delivery_send(
    key: DeliveryKey,
    *,
    store: Store,
    holder: str,
    stopping: Callable[[], bool] | None = None,
    wait: bool = True,
) -> str | None:
    """Claim one delivery and send it. Returns the new state, or None if not claimed (or,
    when `stopping()` turned true before the send began, or an earlier send of the same
    deployment and setup was still in flight, claimed and given back), or WAITING (claimed
    and given back, uncounted: the setup waits for who deployed; `wait=False` sends at
    once)."""
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
    outcome = _attempt(key, claim=claim, store=store, setup=setup, siblings=siblings, wait=wait)
    if outcome is None:  # the setup waits for who deployed: given back, uncounted
        store.delivery_release(claim)
        return WAITING
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
    wait: bool = True,
) -> AttemptOutcome | None:
    """Send the claimed delivery (or decide not to) and say how it went; None when it waits
    for who deployed (see _with_deployer)."""
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
    setup = setup.typed()
    event, note = _with_deployer(store.delivery_get(key), setup, wait=wait)
    if note == WAITING:
        return None
    # The same id on every attempt; a claim that takes over from a sender that died mid-send
    # says so, and the channel checks with the provider where it can (see SendContext).
    context = SendContext(delivery_id=key.delivery_id, in_flight_since=claim.in_flight_since)
    outcome = outcome_for(send_once(event, setup, context=context), attempt=claim.attempt)
    if note:
        outcome = replace(outcome, detail="; ".join(filter(None, (outcome.detail, note))))
    return outcome


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
        self.waiting: dict[DeliveryKey, float] = {}  # waits for who deployed: look again at
        self.busy = 0  # sends running now
        self._lock = threading.Lock()

    def _run(self, key: DeliveryKey) -> None:
        with self._lock:
            self.busy += 1
        try:
            if not self.stopping():
                state = delivery_send(
                    key, store=self.store, holder=self.holder, stopping=self.stopping
                )
                if state == WAITING:  # look again in a little while, not at every turn
                    again = min(5.0, max(0.2, settings.NOTIFIER_DEPLOYER_WAIT / 20))
                    self.waiting[key] = time.monotonic() + again
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
        now = time.monotonic()
        self.waiting = {k: at for k, at in self.waiting.items() if at > now}
        for key in self.store.deliveries_due(limit=200):
            if self.stopping():
                break
            if key in self.in_flight or key in self.waiting:
                continue
            self.in_flight.add(key)
            self.executor.submit(self._run, key)
            started += 1
        return started

    def close(self) -> None:
        """Wait for the sends that started; those only queued are dropped, still due."""
        self.executor.shutdown(wait=True, cancel_futures=True)
