"""The Store contract (notifier/storage/base.py), run over every backend (see conftest.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from django.db import close_old_connections
from django.utils import timezone

from notifier.events import DeploymentEvent, Event, FailurePoint, LifecycleStep, Revision
from notifier.storage.base import (
    DEAD,
    DELIVERED,
    FAILED,
    PENDING,
    SUPERSEDED,
    AttemptOutcome,
    DeliveryKey,
    PollState,
    Store,
    poll_lease_name,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def deployment(
    deployment_id="d-1",
    *,
    application="storefront",
    status="Succeeded",
    event=Event.SUCCEEDED,
    created=T0,
) -> DeploymentEvent:
    return DeploymentEvent(
        deployment_id=deployment_id,
        application=application,
        deployment_group="production",
        status=status,
        event=event,
        creator="ana",
        description="release 42",
        revision=Revision(type="GitHub", summary="9f1c2d3", commit_id="9f1c2d3"),
        create_time=created,
    )


def queued(store, deployment_id="d-1", *, event="succeeded", setup_id=1, **kwargs) -> DeliveryKey:
    e = deployment(deployment_id, **kwargs)
    store.deployment_save(e, seen_at=timezone.now())
    key = DeliveryKey(deployment_id, event, setup_id)
    assert store.delivery_create(key, kind="newrelic", event=e.with_event(Event(event)))
    return key


def outcome(state=DELIVERED, *, error="", next_attempt_at=None, status=201) -> AttemptOutcome:
    return AttemptOutcome(
        state=state,
        started_at=timezone.now(),
        latency_ms=12,
        response_status=status,
        error=error,
        detail="marker 7" if state == DELIVERED else "",
        next_attempt_at=next_attempt_at,
    )


def test_it_implements_the_protocol(store):
    assert isinstance(store, Store)


def test_it_says_how_many_deployments_the_poller_may_store_at_once(store):
    assert "write_concurrency" in Store.__annotations__
    assert isinstance(store.write_concurrency, int) and store.write_concurrency >= 1


# --- poll state --------------------------------------------------------------------------


def test_poll_state_is_empty_before_the_first_cycle(store):
    assert store.poll_state_get() == PollState()


def test_poll_state_round_trips(store):
    state = PollState(
        watermark=T0,
        pending={"d-1": "InProgress"},
        recent_terminal={"d-2": 1764244800.5},
        last_success=T0 + timedelta(seconds=1),
        last_error="AWS said no",
        last_error_at=T0 + timedelta(seconds=2),
        failing_since=T0 + timedelta(seconds=2),
        last_created=T0 - timedelta(seconds=30),
    )
    store.poll_state_save(state)
    assert store.poll_state_get() == state
    state.pending = {}
    store.poll_state_save(state)
    assert store.poll_state_get().pending == {}


def test_a_success_clears_when_polling_began_failing(store):
    store.poll_state_save(PollState(last_error="AWS said no", failing_since=T0))
    assert store.poll_state_get().failing_since == T0
    store.poll_state_save(PollState(last_success=T0 + timedelta(seconds=5)))
    assert store.poll_state_get().failing_since is None


def test_each_source_has_its_own_poll_state(store):
    default = PollState(watermark=T0, pending={"d-1": "InProgress"}, last_success=T0)
    failing = PollState(last_error="AWS denied codedeploy:ListDeployments", failing_since=T0)
    store.poll_state_save(default)
    store.poll_state_save(failing, source="prod-eu")

    assert store.poll_state_get() == default
    assert store.poll_state_get(source="default") == default  # the default source's, as before
    assert store.poll_state_get(source="prod-eu") == failing
    assert store.poll_state_get(source="staging") == PollState()


def test_two_sources_poll_leases_are_independent(store):
    assert store.lease_acquire(poll_lease_name("default"), "a", seconds=30)
    assert store.lease_acquire(poll_lease_name("prod-eu"), "b", seconds=30)
    assert not store.lease_acquire(poll_lease_name("prod-eu"), "a", seconds=30)
    store.lease_release(poll_lease_name("default"), "a")
    assert store.lease_acquire(poll_lease_name("default"), "c", seconds=30)
    assert not store.lease_acquire(poll_lease_name("prod-eu"), "c", seconds=30)
    assert poll_lease_name("default") == "poller"  # the lease's name before sources


def test_a_lease_is_held_by_one_holder_until_it_expires_or_is_released(store):
    assert store.lease_acquire("poller", "a", seconds=30)
    assert not store.lease_acquire("poller", "b", seconds=30)
    assert store.lease_acquire("poller", "a", seconds=30)  # renewal
    store.lease_release("poller", "b")  # not b's to release
    assert not store.lease_acquire("poller", "b", seconds=30)
    store.lease_release("poller", "a")
    assert store.lease_acquire("poller", "b", seconds=0.001)
    threading.Event().wait(0.01)
    assert store.lease_acquire("poller", "a", seconds=30)  # b's expired


# --- the ledger --------------------------------------------------------------------------


def test_a_delivery_is_created_once(store):
    key = queued(store)
    assert not store.delivery_create(key, kind="newrelic", event=deployment())
    delivery = store.delivery_get(key)
    assert delivery.key == key
    assert (delivery.kind, delivery.state, delivery.attempts) == ("newrelic", PENDING, 0)
    assert delivery.event == deployment()
    assert delivery.history == ()
    assert delivery.next_attempt_at is None


def test_an_unknown_delivery_is_none_and_cannot_be_claimed(store):
    key = DeliveryKey("d-404", "succeeded", 1)
    assert store.delivery_get(key) is None
    assert store.delivery_claim(key, holder="a", lease_seconds=30) is None
    assert not store.delivery_requeue(key)


def test_a_claim_counts_the_attempt_and_holds_the_delivery(store):
    key = queued(store)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    assert claim.key == key and claim.attempt == 1
    assert claim.lease_until > timezone.now()
    assert store.delivery_claim(key, holder="b", lease_seconds=30) is None
    assert store.delivery_get(key).attempts == 1


def test_eight_threads_claim_the_same_delivery_at_once_and_exactly_one_wins(store):
    key = queued(store)
    start = threading.Barrier(8)
    claims, errors = [], []

    def claim(n: int) -> None:
        try:
            start.wait()
            claims.append(store.delivery_claim(key, holder=f"node-{n}", lease_seconds=30))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    winners = [c for c in claims if c is not None]
    assert len(claims) == 8
    assert len(winners) == 1
    assert store.delivery_get(key).attempts == 1


def test_a_claim_whose_lease_expired_is_taken_over(store):
    key = queued(store)
    first = store.delivery_claim(key, holder="a", lease_seconds=30)
    later = timezone.now() + timedelta(seconds=31)
    assert store.delivery_claim(key, holder="b", lease_seconds=30, now=later - timedelta(2)) is None
    second = store.delivery_claim(key, holder="b", lease_seconds=30, now=later)
    assert second is not None
    assert second.attempt == 2
    assert second.token != first.token


def test_a_stale_holders_outcome_does_not_overwrite_the_new_holders(store):
    key = queued(store)
    stale = store.delivery_claim(key, holder="a", lease_seconds=30)
    later = timezone.now() + timedelta(seconds=31)
    fresh = store.delivery_claim(key, holder="b", lease_seconds=30, now=later)

    assert store.delivery_record(fresh, outcome(DELIVERED))
    assert not store.delivery_record(stale, outcome(FAILED, error="boom", status=400))

    delivery = store.delivery_get(key)
    assert delivery.state == DELIVERED
    assert delivery.last_error == ""
    assert [(a.number, a.state) for a in delivery.history] == [(2, DELIVERED)]


def test_a_stale_holder_cannot_record_before_the_new_holder_either(store):
    key = queued(store)
    stale = store.delivery_claim(key, holder="a", lease_seconds=30)
    later = timezone.now() + timedelta(seconds=31)
    fresh = store.delivery_claim(key, holder="b", lease_seconds=30, now=later)
    assert not store.delivery_record(stale, outcome(DELIVERED))
    assert store.delivery_get(key).state == PENDING
    assert store.delivery_record(fresh, outcome(DELIVERED))


def test_a_recorded_attempt_keeps_every_detail(store):
    key = queued(store)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    result = outcome(DELIVERED)
    assert store.delivery_record(claim, result)
    assert not store.delivery_record(claim, result)  # the claim is spent
    delivery = store.delivery_get(key)
    (attempt,) = delivery.history
    assert attempt.number == 1
    assert attempt.state == DELIVERED
    assert attempt.started_at == result.started_at
    assert (attempt.latency_ms, attempt.response_status, attempt.detail) == (12, 201, "marker 7")
    assert delivery.updated_at >= delivery.created_at


def test_a_failed_attempt_keeps_its_error_code(store):
    key = queued(store)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    failure = AttemptOutcome(
        state=FAILED,
        started_at=timezone.now(),
        latency_ms=9,
        response_status=401,
        error="New Relic rejected NEW_RELIC_API_KEY (401)",
        error_code="unauthorized",
    )
    assert store.delivery_record(claim, failure)
    delivery = store.delivery_get(key)
    assert delivery.last_error_code == "unauthorized"
    assert [a.error_code for a in delivery.history] == ["unauthorized"]
    (listed,) = store.deployment_get("d-1").deliveries
    assert listed.last_error_code == "unauthorized"


def test_a_retry_waits_until_it_is_due(store):
    key = queued(store)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    retry_at = timezone.now() + timedelta(seconds=60)
    store.delivery_record(
        claim, outcome(PENDING, error="HTTP 503", status=503, next_attempt_at=retry_at)
    )
    delivery = store.delivery_get(key)
    assert (delivery.state, delivery.last_error) == (PENDING, "HTTP 503")
    assert delivery.next_attempt_at == retry_at
    assert store.deliveries_due() == []
    assert store.delivery_claim(key, holder="a", lease_seconds=30) is None

    later = retry_at + timedelta(seconds=1)
    assert store.deliveries_due(now=later) == [key]
    again = store.delivery_claim(key, holder="b", lease_seconds=30, now=later)
    assert again.attempt == 2
    store.delivery_record(again, outcome(DEAD, error="HTTP 503 (gave up)", status=503))
    delivery = store.delivery_get(key)
    assert delivery.state == DEAD
    assert [a.state for a in delivery.history] == [PENDING, DEAD]


def test_deliveries_due_are_pending_unleased_and_oldest_first(store):
    first = queued(store, "d-1")
    second = queued(store, "d-2")
    third = queued(store, "d-3")
    fourth = queued(store, "d-4")
    assert store.deliveries_due() == [first, second, third, fourth]
    assert store.deliveries_due(limit=2) == [first, second]

    store.delivery_claim(second, holder="a", lease_seconds=30)  # leased
    done = store.delivery_claim(third, holder="a", lease_seconds=30)
    store.delivery_record(done, outcome(DELIVERED))  # finished
    assert store.deliveries_due() == [first, fourth]
    # Once the lease has run out the claimed one is due again.
    later = timezone.now() + timedelta(seconds=31)
    assert store.deliveries_due(now=later) == [first, second, fourth]


def test_a_released_claim_is_due_again_at_once_without_counting_an_attempt(store):
    key = queued(store)
    claim = store.delivery_claim(key, holder="stopping-node", lease_seconds=30)
    assert store.deliveries_due() == []

    assert store.delivery_release(claim)

    assert store.deliveries_due() == [key]
    delivery = store.delivery_get(key)
    assert (delivery.state, delivery.attempts, delivery.history) == (PENDING, 0, ())
    again = store.delivery_claim(key, holder="other-node", lease_seconds=30)
    assert again is not None and again.attempt == 1
    assert store.delivery_record(again, outcome(DELIVERED))
    assert [a.number for a in store.delivery_get(key).history] == [1]


def test_a_claim_can_be_released_only_by_its_holder_and_only_once(store):
    key = queued(store)
    stale = store.delivery_claim(key, holder="a", lease_seconds=30)
    later = timezone.now() + timedelta(seconds=31)
    fresh = store.delivery_claim(key, holder="b", lease_seconds=30, now=later)

    assert not store.delivery_release(stale)  # lost to b: b's lease stands
    assert store.delivery_claim(key, holder="c", lease_seconds=30, now=later) is None
    assert store.delivery_release(fresh)
    assert not store.delivery_release(fresh)  # spent
    assert store.delivery_get(key).attempts == 1  # a's expired attempt still counts


def test_a_recorded_claim_cannot_be_released(store):
    key = queued(store)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    assert store.delivery_record(claim, outcome(DELIVERED))
    assert not store.delivery_release(claim)
    delivery = store.delivery_get(key)
    assert (delivery.state, delivery.attempts) == (DELIVERED, 1)


def test_a_finished_delivery_can_be_requeued_once(store):
    key = queued(store)
    assert not store.delivery_requeue(key)  # pending already
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    store.delivery_record(claim, outcome(FAILED, error="unknown application", status=404))
    assert store.deliveries_due() == []

    assert store.delivery_requeue(key)
    assert not store.delivery_requeue(key)
    delivery = store.delivery_get(key)
    assert delivery.state == PENDING
    assert store.deliveries_due(now=timezone.now() + timedelta(seconds=1)) == [key]
    again = store.delivery_claim(
        key, holder="b", lease_seconds=30, now=timezone.now() + timedelta(seconds=1)
    )
    assert again.attempt == 2


# --- deployments and history --------------------------------------------------------------


def test_a_deployment_keeps_its_latest_state_and_a_timeline(store):
    seen = timezone.now()
    store.deployment_save(deployment(status="InProgress", event=Event.STARTED), seen_at=seen)
    store.deployment_save(
        deployment(status="InProgress", event=Event.STARTED), seen_at=seen + timedelta(seconds=1)
    )
    store.deployment_save(deployment(), seen_at=seen + timedelta(seconds=5))

    record = store.deployment_get("d-1")
    assert record.event == deployment()
    assert record.first_seen == seen
    assert record.updated_at == seen + timedelta(seconds=5)
    assert [(c.status, c.seen_at) for c in record.timeline] == [
        ("InProgress", seen),
        ("Succeeded", seen + timedelta(seconds=5)),
    ]
    assert store.deployment_get("d-404") is None


def test_a_failed_deployment_keeps_where_it_broke_and_its_deliveries_carry_it(store):
    failure = FailurePoint(
        target_id="i-0abc",
        target_kind="Instance",
        lifecycle_event="ApplicationStart",
        status="Failed",
        script_name="start.sh",
        log_tail="[stderr]boom\n[stderr]é ünïcode",
        failed_targets=2,
        lifecycle_events=(LifecycleStep("ApplicationStart", "Failed", 64.5),),
    )
    failed = deployment(status="Failed", event=Event.FAILED).with_failure(failure)
    store.deployment_save(failed, seen_at=timezone.now())
    key = DeliveryKey("d-1", "failed", 1)
    assert store.delivery_create(key, kind="webhook", event=failed)

    assert store.deployment_get("d-1").event.failure == failure
    assert store.delivery_get(key).event.failure == failure


def test_a_late_non_terminal_state_never_replaces_a_terminal_one(store):
    seen = timezone.now()
    store.deployment_save(deployment(), seen_at=seen)
    late = deployment(status="InProgress", event=Event.STARTED)
    store.deployment_save(late, seen_at=seen + timedelta(seconds=1))

    record = store.deployment_get("d-1")
    assert record.event.status == "Succeeded"
    assert record.updated_at == seen
    assert [c.status for c in record.timeline] == ["Succeeded"]
    # A terminal state still replaces a non-terminal one, and a terminal one.
    store.deployment_save(deployment("d-2", status="InProgress", event=Event.STARTED), seen_at=seen)
    store.deployment_save(deployment("d-2"), seen_at=seen + timedelta(seconds=2))
    assert store.deployment_get("d-2").event.status == "Succeeded"
    stopped = deployment("d-2", status="Stopped", event=Event.STOPPED)
    store.deployment_save(stopped, seen_at=seen + timedelta(seconds=3))
    assert store.deployment_get("d-2").event.status == "Stopped"


def test_a_deployment_shows_every_delivery_and_attempt(store):
    ok = queued(store, "d-1", setup_id=1)
    failed = queued(store, "d-1", setup_id=2)
    store.delivery_record(store.delivery_claim(ok, holder="a", lease_seconds=30), outcome())
    store.delivery_record(
        store.delivery_claim(failed, holder="a", lease_seconds=30),
        outcome(FAILED, error="unknown application", status=404),
    )
    record = store.deployment_get("d-1")
    assert [(d.key, d.state) for d in record.deliveries] == [(ok, DELIVERED), (failed, FAILED)]
    assert [len(d.history) for d in record.deliveries] == [1, 1]
    assert record.deliveries[1].history[0].error == "unknown application"


def test_history_is_newest_first_by_create_time(store):
    for n, minutes in enumerate([5, 1, 9, 3]):
        queued(store, f"d-{n}", created=T0 + timedelta(minutes=minutes))
    page = store.deployments_page()
    assert [r.event.deployment_id for r in page.items] == ["d-2", "d-0", "d-3", "d-1"]
    assert page.number == 1 and not page.has_next
    assert page.total in (4, None)
    assert [len(r.deliveries) for r in page.items] == [1, 1, 1, 1]


def test_history_pages_and_filters_by_application(store):
    for n in range(7):
        store.deployment_save(
            deployment(
                f"d-{n}",
                application="storefront" if n % 2 else "checkout",
                created=T0 + timedelta(minutes=n),
            ),
            seen_at=timezone.now(),
        )
    first = store.deployments_page(per_page=3)
    second = store.deployments_page(per_page=3, page=2)
    third = store.deployments_page(per_page=3, page=3)
    assert [r.event.deployment_id for r in first.items] == ["d-6", "d-5", "d-4"]
    assert [r.event.deployment_id for r in second.items] == ["d-3", "d-2", "d-1"]
    assert [r.event.deployment_id for r in third.items] == ["d-0"]
    assert (first.has_next, second.has_next, third.has_next) == (True, True, False)

    storefront = store.deployments_page(application="storefront")
    assert [r.event.deployment_id for r in storefront.items] == ["d-5", "d-3", "d-1"]
    assert storefront.total in (3, None)
    assert store.deployments_page(application="nobody").items == []


def test_a_deployment_without_a_create_time_comes_last(store):
    store.deployment_save(deployment("d-old", created=None), seen_at=timezone.now())
    store.deployment_save(deployment("d-new"), seen_at=timezone.now())
    assert [r.event.deployment_id for r in store.deployments_page().items] == ["d-new", "d-old"]


# --- attempts in flight: "maybe sent" ------------------------------------------------------


def test_a_first_claim_is_in_flight_but_not_maybe_sent(store):
    key = queued(store)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    assert claim.in_flight_since is None
    assert store.delivery_get(key).maybe_sent_since is None


def test_a_claim_whose_holder_died_mid_send_reads_as_maybe_sent_once_its_lease_expires(store):
    key = queued(store)
    started = timezone.now() - timedelta(seconds=60)
    store.delivery_claim(key, holder="a", lease_seconds=30, now=started)
    assert store.delivery_get(key).maybe_sent_since == started
    (listed,) = store.deployment_get("d-1").deliveries
    assert listed.maybe_sent_since == started


def test_a_takeover_of_an_attempt_in_flight_knows_when_that_attempt_started(store):
    key = queued(store)
    started = timezone.now()
    store.delivery_claim(key, holder="a", lease_seconds=30, now=started)
    later = started + timedelta(seconds=31)
    takeover = store.delivery_claim(key, holder="b", lease_seconds=30, now=later)
    assert takeover.in_flight_since == started
    assert store.delivery_get(key).maybe_sent_since == started
    # A second death keeps the first attempt's start: the provider may have had it since.
    third = store.delivery_claim(key, holder="c", lease_seconds=30, now=later + timedelta(31))
    assert third.in_flight_since == started


def test_an_outcome_resolves_maybe_sent(store):
    key = queued(store)
    started = timezone.now() - timedelta(seconds=60)
    store.delivery_claim(key, holder="a", lease_seconds=30, now=started)
    takeover = store.delivery_claim(key, holder="b", lease_seconds=30)
    assert takeover.in_flight_since == started
    assert store.delivery_record(takeover, outcome(DELIVERED, status=200))
    delivery = store.delivery_get(key)
    assert delivery.state == DELIVERED
    assert delivery.maybe_sent_since is None


def test_a_retry_after_a_recorded_failure_is_not_a_resend_of_an_attempt_in_flight(store):
    key = queued(store)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    retry_at = timezone.now() + timedelta(seconds=5)
    store.delivery_record(
        claim, outcome(PENDING, error="503", status=503, next_attempt_at=retry_at)
    )
    assert store.delivery_get(key).maybe_sent_since is None
    again = store.delivery_claim(key, holder="b", lease_seconds=30, now=retry_at)
    assert again.attempt == 2
    assert again.in_flight_since is None


def test_a_released_claim_leaves_nothing_in_flight(store):
    key = queued(store)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    assert store.delivery_release(claim)
    assert store.delivery_get(key).maybe_sent_since is None
    again = store.delivery_claim(key, holder="b", lease_seconds=30)
    assert again.in_flight_since is None


def test_a_released_takeover_keeps_the_attempt_in_flight_before_it(store):
    key = queued(store)
    started = timezone.now() - timedelta(seconds=60)
    store.delivery_claim(key, holder="a", lease_seconds=30, now=started)
    takeover = store.delivery_claim(key, holder="b", lease_seconds=30)
    assert store.delivery_release(takeover)  # b stops before sending
    assert store.delivery_get(key).maybe_sent_since == started
    again = store.delivery_claim(key, holder="c", lease_seconds=30)
    assert again.in_flight_since == started


# --- push queues ----------------------------------------------------------------------
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/codedeploy-events"


def test_push_queues_are_unknown_until_a_receive_is_counted(store):
    assert store.push_stats_list() == []


def test_a_push_queues_counts_add_up_and_its_ignored_messages_are_kept_by_reason(store):
    store.push_stats_add(
        QUEUE, at=T0, received=3, acted=2, ignored={"malformed": 1}, oldest_age_seconds=0.4
    )
    later = T0 + timedelta(seconds=20)
    store.push_stats_add(QUEUE, at=later)  # an empty long poll: alive, nothing new
    store.push_stats_add(
        QUEUE,
        at=later,
        received=2,
        ignored={"malformed": 1, "unregistered_application": 1},
        oldest_age_seconds=3.5,
    )
    [stats] = store.push_stats_list()
    assert (stats.queue_url, stats.received, stats.acted) == (QUEUE, 5, 2)
    assert stats.ignored == {"malformed": 2, "unregistered_application": 1}
    assert stats.last_receive == later
    assert stats.last_message_at == later
    assert stats.oldest_age_seconds == 3.5
    assert (stats.last_error, stats.last_error_at) == ("", None)


def test_an_empty_receive_keeps_when_messages_last_came(store):
    store.push_stats_add(QUEUE, at=T0, received=1, acted=1, oldest_age_seconds=0.2)
    store.push_stats_add(QUEUE, at=T0 + timedelta(seconds=20))
    [stats] = store.push_stats_list()
    assert stats.last_message_at == T0
    assert stats.last_receive == T0 + timedelta(seconds=20)
    assert stats.oldest_age_seconds == 0.2


def test_a_failed_receive_is_recorded_until_one_works(store):
    store.push_stats_add(QUEUE, at=T0, error="AWS denied sqs:ReceiveMessage")
    [stats] = store.push_stats_list()
    assert (stats.last_error, stats.last_error_at) == ("AWS denied sqs:ReceiveMessage", T0)
    store.push_stats_add(QUEUE, at=T0 + timedelta(seconds=1))
    [stats] = store.push_stats_list()
    assert (stats.last_error, stats.last_error_at) == ("", None)


def test_each_push_queue_is_counted_apart(store):
    other = QUEUE.replace("123456789012", "210987654321")
    store.push_stats_add(QUEUE, at=T0, received=1, acted=1)
    store.push_stats_add(other, at=T0, received=4, ignored={"unknown_account": 4})
    by_url = {s.queue_url: s for s in store.push_stats_list()}
    assert (by_url[QUEUE].received, by_url[other].received) == (1, 4)
    assert by_url[other].ignored == {"unknown_account": 4}


def test_consumers_counting_at_once_lose_no_count(store):
    start = threading.Barrier(6)
    errors = []

    def count(n: int) -> None:
        try:
            start.wait()
            for _ in range(5):
                store.push_stats_add(QUEUE, at=T0, received=2, acted=1, ignored={"malformed": 1})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=count, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    [stats] = store.push_stats_list()
    assert (stats.received, stats.acted, stats.ignored) == (60, 30, {"malformed": 30})


# --- sends in flight, and superseded notifications ---------------------------------------


def test_a_delivery_being_sent_says_since_when_until_its_outcome(store):
    key = queued(store)
    assert store.delivery_get(key).sending_since is None
    started = timezone.now()
    claim = store.delivery_claim(key, holder="a", lease_seconds=30, now=started)
    assert store.delivery_get(key).sending_since == started
    assert store.delivery_record(claim, outcome())
    assert store.delivery_get(key).sending_since is None


def test_a_send_whose_lease_ran_out_is_no_longer_being_sent(store):
    key = queued(store)
    store.delivery_claim(key, holder="a", lease_seconds=30, now=timezone.now() - timedelta(60))
    delivery = store.delivery_get(key)
    assert delivery.sending_since is None and delivery.maybe_sent_since is not None


def test_a_superseded_delivery_is_final_never_due_and_says_why(store):
    key = queued(store, event="started", status="InProgress")
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    why = "Superseded: the deployment had already succeeded when this was due"
    superseded = AttemptOutcome(
        state=SUPERSEDED,
        started_at=timezone.now(),
        latency_ms=0,
        error=why,
        error_code="superseded",
    )
    assert store.delivery_record(claim, superseded)
    delivery = store.delivery_get(key)
    assert delivery.state == SUPERSEDED and delivery.last_error == why
    assert delivery.last_error_code == "superseded"
    assert [(a.state, a.error_code) for a in delivery.history] == [(SUPERSEDED, "superseded")]
    assert key not in store.deliveries_due(now=timezone.now() + timedelta(days=1))
    assert store.delivery_claim(key, holder="b", lease_seconds=30) is None
    (listed,) = store.deployment_get("d-1").deliveries
    assert listed.state == SUPERSEDED
