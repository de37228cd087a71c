"""The push consumer against moto's server over HTTP: EventBridge rules put CodeDeploy's events
on SQS queues of two accounts (the default source's, and a role source's), the service loop
consumes them, and webhook setups on a local HTTP server hear each event once."""

from __future__ import annotations

import random
import threading
import time

import pytest

from channels.webhook import WebhookSetup
from notifier.loop import Stopping, service_loop_run
from notifier.sources import boto3_session_for
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.sources import Source, source_default
from tests.notifier.test_poller_sources import codedeploy_of
from tests.support.aws import ACCOUNT
from tests.support.dynamodb import dynamo_store
from tests.support.processes import wait_until
from tests.support.push import PushQueue, WebhookSink

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_ACCOUNT = "210987654321"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/codedeploy-notifier"
EVENTS = ["started", "ready", "succeeded", "failed", "stopped"]


@pytest.fixture(autouse=True)
def fresh_sessions(settings, tmp_path):
    settings.NOTIFIER_NODE_LOCK = tmp_path / "node.lock"
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    boto3_session_for.cache_clear()
    yield
    boto3_session_for.cache_clear()


class Account:
    """One source with its push queue, its CodeDeploy, and a webhook setup hearing all."""

    def __init__(self, aws, source: Source, account: str, sink: WebhookSink, **queue) -> None:
        session = boto3_session_for(source.config())
        self.queue = PushQueue(aws.endpoint, session=session, **queue)
        Source.objects.filter(pk=source.pk).update(queue_url=self.queue.url)
        self.codedeploy = codedeploy_of(aws, source, account)
        registration = Registration.objects.create(
            codedeploy_application_name="storefront", source=source
        )
        WebhookSetup.objects.create(registration=registration, url=sink.url, events=EVENTS)

    def deploy(self) -> str:
        deployment = self.codedeploy.deploy("storefront")
        self.codedeploy.move(deployment, "InProgress")
        return deployment


@pytest.fixture
def sink(httpserver) -> WebhookSink:
    return WebhookSink(httpserver)


@pytest.fixture
def here(aws, sink) -> Account:
    return Account(aws, source_default(), ACCOUNT, sink)


@pytest.fixture
def there(aws, sink) -> Account:
    prod = Source.objects.create(name="prod", credentials="role", role_arn=ROLE)
    return Account(aws, prod, OTHER_ACCOUNT, sink)


@pytest.fixture(params=["orm", "dynamodb"])
def ledger(request, aws):
    """The store, on either backend: what push relies on (idempotent deliveries, a terminal
    state never replaced) holds on both."""
    return OrmStore() if request.param == "orm" else dynamo_store()


class Loop:
    def __init__(self, store) -> None:
        self.stopping = Stopping()
        self.cycles: list[int] = []
        self.thread = threading.Thread(
            target=lambda: self.cycles.append(
                service_loop_run(store=store, stopping=self.stopping, seconds=120)
            )
        )

    def __enter__(self) -> Loop:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)
        self.stopping.close()
        assert not self.thread.is_alive()


def polled(store, *names) -> bool:
    return all(store.poll_state_get(source=name).last_success for name in names)


def test_each_accounts_events_are_notified_once_without_waiting_for_a_poll(
    here, there, sink, settings
):
    settings.NOTIFIER_RECONCILE_INTERVAL = 600  # no second poll within this test
    store = OrmStore()
    with Loop(store) as loop:
        wait_until(lambda: polled(store, "default", "prod"), timeout=15, what="the first polls")
        ours, theirs = here.deploy(), there.deploy()
        began = time.monotonic()
        here.queue.put(ours, "START")
        there.queue.put(theirs, "START")
        wait_until(lambda: len(sink.calls) == 2, timeout=10, what="both started notifications")
        print(f"started notified {time.monotonic() - began:.3f} s after the events were put")
        for account, deployment in ((here, ours), (there, theirs)):
            account.codedeploy.move(deployment, "Succeeded")
            account.queue.put(deployment, "SUCCESS")
        wait_until(lambda: len(sink.calls) == 4, timeout=10, what="both outcomes")
        time.sleep(0.5)  # nothing more comes
        stats = {s.queue_url: s for s in store.push_stats_list()}
    assert sink.of(ours) == ["started", "succeeded"]
    assert sink.of(theirs) == ["started", "succeeded"]
    assert loop.cycles == [2]  # one poll of each source, at the loop's start: all came by push
    assert (stats[here.queue.url].acted, stats[there.queue.url].acted) == (2, 2)
    assert here.queue.messages_left() == there.queue.messages_left() == 0


def test_a_success_read_before_its_start_never_sends_started_after_succeeded(
    here, sink, settings, ledger
):
    settings.NOTIFIER_RECONCILE_INTERVAL = 600  # the events alone
    store = ledger
    with Loop(store):
        wait_until(lambda: polled(store, "default"), timeout=15, what="the first poll")
        deployment = here.deploy()
        here.codedeploy.move(deployment, "Succeeded")
        here.queue.put(deployment, "SUCCESS")
        wait_until(lambda: sink.of(deployment), timeout=15, what="the outcome")
        here.queue.put(deployment, "START")
        wait_until(
            lambda: store.push_stats_list()[0].ignored.get("stale"), timeout=10, what="the start"
        )
        time.sleep(0.5)
    assert sink.of(deployment) == ["succeeded"]
    assert store.deployment_get(deployment).event.status == "Succeeded"
    assert here.queue.messages_left() == 0


def test_every_event_delivered_twice_is_notified_once(here, there, sink, settings, ledger):
    settings.NOTIFIER_RECONCILE_INTERVAL = 600  # the events alone
    store = ledger
    with Loop(store):
        wait_until(lambda: polled(store, "default", "prod"), timeout=15, what="the first polls")
        deployments = [(account, account.deploy()) for account in (here, there, here, there)]
        for account, deployment in deployments:
            account.queue.put(deployment, "START")
            account.queue.put(deployment, "START")
        wait_until(lambda: len(sink.calls) >= 4, timeout=15, what="the started notifications")
        for n, (account, deployment) in enumerate(deployments):
            state, status = ("SUCCESS", "Succeeded") if n % 2 else ("FAILURE", "Failed")
            account.codedeploy.move(deployment, status)
            account.queue.put(deployment, state)
            account.queue.put(deployment, state)
        wait_until(lambda: len(sink.calls) >= 8, timeout=15, what="the outcomes")
        wait_until(
            lambda: here.queue.messages_left() + there.queue.messages_left() == 0,
            timeout=15,
            what="every copy consumed",
        )
        time.sleep(0.5)
    for n, (_, deployment) in enumerate(deployments):
        assert sink.of(deployment) == ["started", "succeeded" if n % 2 else "failed"]


def test_with_a_fifth_of_the_events_lost_every_outcome_still_arrives_once(
    here, there, sink, settings
):
    settings.NOTIFIER_RECONCILE_INTERVAL = 3
    chance = random.Random(20261129)
    store = OrmStore()
    dropped_start: set[str] = set()
    with Loop(store):
        wait_until(lambda: polled(store, "default", "prod"), timeout=15, what="the first polls")
        deployments = [(account, account.deploy()) for account in (here, there) * 6]
        for account, deployment in deployments:
            if chance.random() < 0.2:
                dropped_start.add(deployment)  # lost before it reached the queue
            else:
                account.queue.put(deployment, "START")
        kept = [d for _, d in deployments if d not in dropped_start]
        wait_until(
            lambda: all("started" in sink.of(d) for d in kept), timeout=15, what="the starts"
        )
        outcomes = {}
        for n, (account, deployment) in enumerate(deployments):
            state, status = [("SUCCESS", "Succeeded"), ("FAILURE", "Failed"), ("STOP", "Stopped")][
                n % 3
            ]
            outcomes[deployment] = status.lower()
            account.codedeploy.move(deployment, status)
            if chance.random() >= 0.2:
                account.queue.put(deployment, state)
        began = time.monotonic()
        wait_until(
            lambda: all(outcomes[d] in sink.of(d) for _, d in deployments),
            timeout=3 + 10,  # one reconcile interval, and the cycle and sends on a loaded host
            what="every outcome",
        )
        print(f"every outcome within {time.monotonic() - began:.2f} s (reconcile: 3 s)")
        time.sleep(0.5)
    for _, deployment in deployments:
        heard = sink.of(deployment)
        # A deployment whose START was lost and that finished before the next reconcile
        # poll is first seen finished: only its outcome is sent (polling's rule). Every
        # other deployment was heard starting, then finishing, once each.
        if deployment in dropped_start:
            assert heard in ([outcomes[deployment]], ["started", outcomes[deployment]])
        else:
            assert heard == ["started", outcomes[deployment]]
    assert dropped_start, "the seed drops some START events"
