from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.utils import timezone

from channels.newrelic import NewRelicSetup
from notifier.dispatch import Dispatcher, deliveries_create, delivery_send, retry_delay
from notifier.events import DeploymentEvent, Event
from notifier.storage.base import DEAD, DELIVERED, FAILED, PENDING, DeliveryKey
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def make_setup(application="storefront", nr_name="web", events=("succeeded",)):
    registration, _ = Registration.objects.get_or_create(codedeploy_application_name=application)
    return NewRelicSetup.objects.create(
        registration=registration, application_name=nr_name, events=list(events)
    )


def event(deployment_id="d-1", status="Succeeded", kind=Event.SUCCEEDED):
    return DeploymentEvent(
        deployment_id=deployment_id,
        application="storefront",
        deployment_group="production",
        status=status,
        event=kind,
        creator="user",
        create_time=timezone.now(),
    )


def queued(store, setup, deployment_id="d-1"):
    e = event(deployment_id)
    store.deployment_save(e, seen_at=timezone.now())
    (key,) = deliveries_create(e, [setup], store=store)
    return key


def test_it_sends_and_records_the_marker(newrelic):
    newrelic.add_application("web")
    store = OrmStore()
    key = queued(store, make_setup())
    assert delivery_send(key, store=store, holder="a") == DELIVERED
    delivery = store.delivery_get(key)
    assert delivery.state == DELIVERED
    (attempt,) = delivery.history
    assert attempt.response_status == 201 and "marker 1" in attempt.detail
    assert len(newrelic.markers) == 1


def test_a_delivery_is_created_once_per_event_and_setup():
    store = OrmStore()
    setup = make_setup()
    e = event()
    store.deployment_save(e, seen_at=timezone.now())
    assert len(deliveries_create(e, [setup], store=store)) == 1
    assert deliveries_create(e, [setup], store=store) == []


def test_concurrent_senders_send_once(newrelic):
    newrelic.add_application("web")
    store = OrmStore()
    key = queued(store, make_setup())
    barrier = threading.Barrier(6)
    results = []

    def sender(n):
        barrier.wait()
        try:
            results.append(delivery_send(key, store=store, holder=f"sender-{n}"))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(DELIVERED) == 1
    assert results.count(None) == 5
    assert len(newrelic.markers) == 1


@pytest.mark.fault
def test_a_server_error_is_retried_with_backoff_then_delivered(newrelic, settings):
    settings.NOTIFIER_RETRY_BASE = 0
    newrelic.add_application("web")
    newrelic.fail_next = [500, 503]
    store = OrmStore()
    key = queued(store, make_setup())
    assert delivery_send(key, store=store, holder="a") == PENDING
    assert delivery_send(key, store=store, holder="a") == PENDING
    assert delivery_send(key, store=store, holder="a") == DELIVERED
    delivery = store.delivery_get(key)
    assert [a.state for a in delivery.history] == [PENDING, PENDING, DELIVERED]
    assert [a.response_status for a in delivery.history] == [500, 503, 201]
    assert len(newrelic.markers) == 1


@pytest.mark.fault
def test_a_429_waits_the_time_the_provider_asks_then_is_delivered_once(newrelic, settings):
    settings.NOTIFIER_RETRY_BASE = 0
    newrelic.add_application("web")
    newrelic.fail_next = [(429, {"Retry-After": "2"})]
    store = OrmStore()
    key = queued(store, make_setup())
    before = timezone.now()
    assert delivery_send(key, store=store, holder="a") == PENDING
    delivery = store.delivery_get(key)
    assert [a.response_status for a in delivery.history] == [429]
    assert delivery.next_attempt_at >= before + timedelta(seconds=2)
    assert delivery_send(key, store=store, holder="a") is None  # not before the time asked
    assert store.deliveries_due(now=delivery.next_attempt_at) == [key]
    wait_until(lambda: store.deliveries_due() == [key], timeout=10, what="the retry to be due")
    assert delivery_send(key, store=store, holder="a") == DELIVERED
    assert len(newrelic.markers) == 1


def test_a_retry_waits_for_its_time(newrelic, settings):
    settings.NOTIFIER_RETRY_BASE = 60
    newrelic.add_application("web")
    newrelic.fail_next = [500]
    store = OrmStore()
    key = queued(store, make_setup())
    assert delivery_send(key, store=store, holder="a") == PENDING
    assert delivery_send(key, store=store, holder="a") is None  # not due for a minute
    assert store.deliveries_due() == []
    later = timezone.now() + timedelta(seconds=61)
    assert store.deliveries_due(now=later) == [key]


@pytest.mark.fault
def test_retryable_failures_end_dead_at_the_limit(newrelic, settings):
    settings.NOTIFIER_RETRY_BASE = 0
    settings.NOTIFIER_MAX_ATTEMPTS = 3
    newrelic.add_application("web")
    newrelic.fail_next = [500] * 5
    store = OrmStore()
    key = queued(store, make_setup())
    states = [delivery_send(key, store=store, holder="a") for _ in range(4)]
    assert states == [PENDING, PENDING, DEAD, None]
    delivery = store.delivery_get(key)
    assert delivery.state == DEAD
    assert "gave up after 3 attempts" in delivery.last_error


@pytest.mark.fault
def test_a_permanent_failure_stops_at_once(newrelic):
    store = OrmStore()
    key = queued(store, make_setup(nr_name="missing"))
    assert delivery_send(key, store=store, holder="a") == FAILED
    assert delivery_send(key, store=store, holder="a") is None
    assert "New Relic has no application named 'missing'" in store.delivery_get(key).last_error


def test_a_deleted_setup_fails_with_a_reason():
    store = OrmStore()
    setup = make_setup()
    key = queued(store, setup)
    setup.delete()
    assert delivery_send(key, store=store, holder="a") == FAILED
    assert "deleted" in store.delivery_get(key).last_error


@pytest.mark.fault
def test_a_crashed_senders_claim_is_taken_over_after_its_lease(newrelic):
    newrelic.add_application("web")
    store = OrmStore()
    key = queued(store, make_setup())
    crashed = store.delivery_claim(key, holder="crashed", lease_seconds=30)
    assert crashed is not None
    assert delivery_send(key, store=store, holder="b") is None  # still leased
    later = timezone.now() + timedelta(seconds=31)
    assert store.deliveries_due(now=later) == [key]
    taken = store.delivery_claim(key, holder="b", lease_seconds=30, now=later)
    assert taken is not None and taken.attempt == 2


@pytest.mark.fault
def test_one_failing_setup_does_not_delay_another(newrelic, settings):
    """A hanging New Relic lookup holds one sender thread; the other setup goes out."""
    settings.NOTIFIER_SEND_TIMEOUT = 3
    newrelic.add_application("web")
    newrelic.hang_lookups.add("slow")
    store = OrmStore()
    slow_key = queued(store, make_setup(application="a", nr_name="slow"), "d-slow")
    fast_key = queued(store, make_setup(application="b", nr_name="web"), "d-fast")
    dispatcher = Dispatcher(store=store, holder="n1", threads=4)
    try:
        assert dispatcher.dispatch_due() == 2
        assert len(newrelic.wait_for(1, timeout=2.5)) == 1
        # The marker arrived; its sender records the outcome just after the response.
        deadline = time.monotonic() + 2
        while store.delivery_get(fast_key).state != DELIVERED and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.delivery_get(fast_key).state == DELIVERED
        assert store.delivery_get(slow_key).state == PENDING
    finally:
        newrelic.release.set()
        dispatcher.close()


def test_backoff_is_exponential_and_capped(settings):
    settings.NOTIFIER_RETRY_BASE = 2
    settings.NOTIFIER_RETRY_MAX = 30
    assert [retry_delay(n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 16, 30]
    assert retry_delay(1, retry_after=20) == 20
    assert retry_delay(1, retry_after=999) == 30


def test_the_ledger_key_reads_well():
    assert str(DeliveryKey("d-1", "succeeded", 7)) == "d-1/succeeded/7"
