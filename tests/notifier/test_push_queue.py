"""One push queue's consumer against moto's SQS over HTTP: messages it cannot act on are
counted by reason and deleted, a consumer that dies between storing and deleting sends
nothing twice, a stopping consumer gives back what it received, and a failed receive is
recorded in words."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from django.utils import timezone

from channels.webhook import WebhookSetup
from notifier.dispatch import delivery_send
from notifier.loop import Stopping, service_loop_run
from notifier.push import QueueConsumer, enabled_sources
from notifier.sources import boto3_session_for
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.sources import Source, source_default
from tests.support.aws import ACCOUNT, FakeCodeDeploy
from tests.support.processes import wait_until
from tests.support.push import PushQueue, WebhookSink

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURE = Path(__file__).parents[1] / "fixtures/codedeploy/eventbridge-deployment-success.json"


@pytest.fixture(autouse=True)
def fresh_sessions(settings, tmp_path):
    settings.NOTIFIER_NODE_LOCK = tmp_path / "node.lock"
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    boto3_session_for.cache_clear()
    yield
    boto3_session_for.cache_clear()


@pytest.fixture
def sink(httpserver) -> WebhookSink:
    return WebhookSink(httpserver)


def watched_queue(aws, sink, **queue) -> PushQueue:
    """The default source with a push queue, and storefront registered with a webhook."""
    pushed = PushQueue(aws.endpoint, **queue)
    Source.objects.filter(pk=source_default().pk).update(queue_url=pushed.url)
    registration = Registration.objects.create(
        codedeploy_application_name="storefront", deployment_groups="production"
    )
    WebhookSetup.objects.create(
        registration=registration, url=sink.url, events=["started", "succeeded"]
    )
    return pushed


def consumer() -> QueueConsumer:
    (reader,) = [c for c in enabled_sources() if c.queue_url]
    return QueueConsumer(reader, store=OrmStore())


def event_body(deployment_id: str, *, account: str = ACCOUNT, application="storefront") -> str:
    document = json.loads(FIXTURE.read_text())
    document["account"] = account
    document["detail"].update(deploymentId=deployment_id, application=application)
    return json.dumps(document)


def send_all(store) -> None:
    for key in store.deliveries_due(limit=50):
        delivery_send(key, store=store, holder="test")


def test_messages_not_acted_on_are_counted_by_reason_and_deleted(aws, sink, codedeploy):
    queue = watched_queue(aws, sink)
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    codedeploy.group("storefront", "staging")
    other_group = codedeploy.deploy("storefront", "staging")
    codedeploy.move(other_group, "Succeeded")
    queue.send("{not json")
    queue.send(json.dumps({**json.loads(event_body(deployment)), "detail-type": "Spot Warning"}))
    queue.send(
        json.dumps(
            {
                **json.loads(event_body(deployment)),
                "detail-type": "CodeDeploy Instance State-change Notification",
            }
        )
    )
    queue.send(event_body(deployment).replace('"SUCCESS"', '"EXPLODED"'))
    queue.send(event_body("d-UNKNOWNAPP", application="billing"))
    queue.send(event_body(deployment, account="999999999999"))
    queue.put(other_group, "SUCCESS", group="staging")
    queue.send(json.dumps({"Type": "Notification", "Message": event_body(deployment)}))
    reading = consumer()

    wait_until(
        lambda: reading.receive_once() or queue.messages_left() == 0,
        timeout=20,
        what="every message consumed",
    )

    (stats,) = OrmStore().push_stats_list()
    assert stats.queue_url == queue.url
    assert stats.received == 8 and stats.acted == 1
    assert stats.ignored == {
        "malformed": 1,
        "unknown_detail_type": 1,
        "instance_event": 1,
        "unknown_state": 1,
        "unregistered_application": 1,
        "unknown_account": 1,
        "unwatched_group": 1,
    }
    assert stats.last_error == ""
    send_all(OrmStore())
    assert sink.calls == [(deployment, "succeeded")]  # the one inside an SNS envelope


def test_a_consumer_that_dies_after_storing_sends_nothing_twice(aws, sink, codedeploy):
    queue = watched_queue(aws, sink, visibility_timeout=1)
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "InProgress")
    queue.put(deployment, "START")
    dying = consumer()
    messages = wait_until(dying.receive, timeout=10, what="the message")
    dying.batch.handle(messages, sources=enabled_sources(), now=timezone.now())
    # ...and dies here, before deleting: SQS gives the message to the next receiver.
    send_all(store)
    assert sink.calls == [(deployment, "started")]

    time.sleep(1.2)  # the dead consumer's visibility timeout
    survivor = consumer()
    wait_until(
        lambda: survivor.receive_once() or queue.messages_left() == 0,
        timeout=15,
        what="the redelivered message consumed",
    )
    send_all(store)
    assert sink.calls == [(deployment, "started")]
    (stats,) = store.push_stats_list()
    assert (stats.received, stats.acted) == (1, 1)  # the dead consumer counted nothing


def test_a_stopping_consumer_gives_back_what_it_received(aws, sink, codedeploy):
    queue = watched_queue(aws, sink)  # visibility 30 s: only a give-back frees them sooner
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    queue.put(deployment, "SUCCESS")
    stopping = consumer()
    stopping.stop()

    stopping.receive_once()  # its receive was in flight when it was told to stop

    again = queue.sqs.receive_message(
        QueueUrl=queue.url, WaitTimeSeconds=0, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in again] == ["2"]
    assert OrmStore().deployment_get(deployment) is None
    assert OrmStore().deliveries_due(limit=10) == []


def test_a_stopping_loop_does_not_wait_for_a_long_poll(aws, sink, settings):
    settings.NOTIFIER_PUSH_WAIT_SECONDS = 20
    watched_queue(aws, sink)
    store, stopping = OrmStore(), Stopping()
    loop = threading.Thread(target=lambda: service_loop_run(store=store, stopping=stopping))
    loop.start()
    wait_until(lambda: store.poll_state_get().last_success, timeout=15, what="the first poll")
    time.sleep(0.5)  # the consumer is in its 20 s receive
    stopping.set()
    loop.join(timeout=10)
    stopping.close()
    assert not loop.is_alive()


def test_a_queue_that_does_not_exist_is_reported_in_words_and_retried(aws, settings):
    missing = f"{aws.endpoint}/{ACCOUNT}/no-such-queue"
    Source.objects.filter(pk=source_default().pk).update(queue_url=missing)
    store = OrmStore()
    reading = QueueConsumer(source_default().config(), store=store).start()
    try:
        stats = wait_until(store.push_stats_list, timeout=10, what="the receive's error")
        time.sleep(1.5)  # past the first backoff: it retried, and did not crash
        assert reading.thread.is_alive()
        assert store.push_stats_list()[0].last_error_at > stats[0].last_error_at
    finally:
        reading.stop()
    assert stats[0].last_error == (
        f"the push queue {missing} does not exist: correct the source's queue URL, or create "
        "the queue and its EventBridge rule (docs/push.md)"
    )


def test_only_one_codedeploy_call_per_source_per_batch(aws, sink):
    queue = watched_queue(aws, sink)
    codedeploy = FakeCodeDeploy(aws.endpoint)
    deployments = [codedeploy.deploy("storefront") for _ in range(5)]
    for deployment in deployments:
        codedeploy.move(deployment, "InProgress")
        queue.put(deployment, "START")
    reading = consumer()
    calls: list[str] = []
    client = reading.batch.client(reading.reader)
    client.meta.events.register(
        "before-call.codedeploy", lambda event_name, **_: calls.append(event_name)
    )
    messages: list = []
    wait_until(
        lambda: messages.extend(reading.receive()) or len(messages) == 5,
        timeout=10,
        what="the 5 messages",
    )
    outcome = reading.batch.handle(messages, sources=enabled_sources(), now=timezone.now())
    assert outcome.acted == 5
    assert calls == ["before-call.codedeploy.BatchGetDeployments"]
