"""The service loop (notifier.loop): the node lock, stopping, and what a stop gives back.

The signals themselves (SIGTERM to a qcluster's main process or its whole group, and to a
bare `poll_codedeploy`) are exercised on real processes in tests/e2e/test_stop.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from notifier.dispatch import Dispatcher, delivery_send
from notifier.loop import NodeLock, Stopping, service_loop_run
from notifier.poller import POLL_LEASE
from notifier.storage.base import PENDING
from notifier.storage.orm import OrmStore
from tests.notifier.test_dispatch import make_setup, queued

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def node_lock(settings, tmp_path):
    settings.NOTIFIER_NODE_LOCK = tmp_path / "node.lock"
    return settings.NOTIFIER_NODE_LOCK


@pytest.fixture
def stopping():
    stop = Stopping()
    yield stop
    stop.close()


def test_it_gives_back_a_claim_taken_while_stopping_due_at_once_and_uncounted(newrelic):
    newrelic.add_application("web")
    store = OrmStore()
    key = queued(store, make_setup())

    assert delivery_send(key, store=store, holder="stopping-node", stopping=lambda: True) is None

    delivery = store.delivery_get(key)
    assert (delivery.state, delivery.attempts, delivery.history) == (PENDING, 0, ())
    assert store.deliveries_due() == [key]
    assert newrelic.markers == []


def test_a_stopping_dispatcher_claims_nothing_more(newrelic):
    newrelic.add_application("web")
    store = OrmStore()
    setup = make_setup()
    keys = [queued(store, setup, f"d-{n}") for n in range(5)]
    stop = threading.Event()
    dispatcher = Dispatcher(store=store, holder="a", threads=2, stopping=stop.is_set)
    stop.set()
    assert dispatcher.dispatch_due() == 0
    dispatcher.close()
    assert [store.delivery_get(k).attempts for k in keys] == [0] * 5
    assert newrelic.markers == []


def test_a_second_holder_waits_for_the_node_lock_and_takes_over_when_it_is_free(
    node_lock, stopping
):
    first, second = NodeLock(node_lock), NodeLock(node_lock)
    assert first.acquire(stopping=stopping, until=time.monotonic())
    assert not second.acquire(stopping=stopping, until=time.monotonic() + 0.3, poll=0.05)

    took = []
    waiter = threading.Thread(
        target=lambda: took.append(second.acquire(stopping=stopping, until=time.monotonic() + 30))
    )
    waiter.start()
    first.release()
    waiter.join(timeout=10)
    assert took == [True]
    second.release()


def test_a_holder_told_to_stop_stops_waiting_for_the_node_lock(node_lock, stopping):
    first, second = NodeLock(node_lock), NodeLock(node_lock)
    assert first.acquire(stopping=stopping, until=time.monotonic())
    result = []
    waiter = threading.Thread(
        target=lambda: result.append(second.acquire(stopping=stopping, until=time.monotonic() + 60))
    )
    waiter.start()
    stopping.set()
    waiter.join(timeout=10)
    assert result == [False]
    first.release()


def test_an_unwritable_node_lock_names_the_setting_to_change(tmp_path, stopping):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError, match="set NOTIFIER_NODE_LOCK"):
        NodeLock(blocker / "node.lock").acquire(stopping=stopping, until=time.monotonic())


def test_a_loop_waits_while_another_loop_of_the_node_runs(node_lock, stopping, aws):
    holder = NodeLock(node_lock)
    assert holder.acquire(stopping=stopping, until=time.monotonic())
    try:
        assert service_loop_run(seconds=0.5, interval=0.1, store=OrmStore()) == 0
        assert OrmStore().poll_state_get().watermark is None  # it never polled
    finally:
        holder.release()


def test_a_loop_told_to_stop_returns_and_releases_the_poll_lease_and_the_node_lock(
    node_lock, stopping, aws
):
    store = OrmStore()
    cycles = []
    loop = threading.Thread(
        target=lambda: cycles.append(
            service_loop_run(seconds=60, interval=0.1, store=store, stopping=stopping)
        )
    )
    loop.start()
    while not cycles and store.poll_state_get().watermark is None:
        time.sleep(0.05)
    stopping.set()
    loop.join(timeout=15)
    assert not loop.is_alive()
    assert cycles[0] >= 1
    assert store.lease_acquire(POLL_LEASE, "another node", seconds=10)
    lock, fresh = NodeLock(node_lock), Stopping()
    assert lock.acquire(stopping=fresh, until=time.monotonic())
    lock.release()
    fresh.close()


def test_run_service_waits_longer_than_a_send_for_the_cluster_to_stop(settings):
    from notifier.management.commands.run_service import stop_wait_seconds

    assert stop_wait_seconds() == 30  # NOTIFIER_SEND_TIMEOUT's default, 10, + 20
    settings.NOTIFIER_SEND_TIMEOUT = 45
    assert stop_wait_seconds() == 65
