"""One deployment's notifications to one setup never contradict each other.

A started or ready notification that falls due after the setup was told the outcome is
superseded (recorded, not sent); a send waits for the sends of the same deployment to the
same setup that began before it (on any node: the ledger's in-flight marks say so), so the
provider hears them in order and the outcome is its last word.
"""

from __future__ import annotations

import time
from datetime import datetime

from notifier.events import TERMINAL_EVENTS, Event
from notifier.storage.base import DELIVERED, DeliveryKey, Store
from notifier.storage.base import Delivery as StoredDelivery
from registrations.models import NotificationSetup

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
