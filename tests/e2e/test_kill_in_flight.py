"""SIGKILL with sends in flight: what each kind of receiver sees twice, and what it does not.

A real `qcluster` sends a burst of deliveries, one setup of each kind that runs locally
(signed webhook, SNS FIFO on moto, Slack bot token, New Relic REST, Teams, PagerDuty), to
local receivers that hold every request RECEIVER_HOLD seconds after reading it (SNS through a
relay that holds after moto answered), so the provider has the notification when the node
dies. The cluster's process group is SIGKILLed while sends are held; a second cluster with a
short NOTIFIER_CLAIM_LEASE takes the deliveries over. Then:

- Slack and New Relic: zero duplicates (each checks for the message or marker first);
- SNS FIFO: the subscribed FIFO queue receives each once (MessageDeduplicationId);
- webhooks: repeats carry the same X-Notifier-Delivery, so a receiver that drops repeats sees
  each once;
- Teams, PagerDuty: at most the sends that were in flight are repeated;
- nothing is lost: every delivery ends delivered.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter

import boto3
import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from werkzeug import Request, Response

from channels.newrelic import NewRelicSetup
from channels.pagerduty import PagerDutySetup
from channels.slack import SlackSetup
from channels.sns import SnsSetup
from channels.teams import TeamsSetup
from channels.webhook import WebhookSetup
from notifier import models as m
from notifier.events import Event
from notifier.storage.base import DELIVERED, DeliveryKey
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.support.aws import REGION
from tests.support.history import deployment_event
from tests.support.newrelic import API_KEY
from tests.support.processes import ServiceProcess, service_env, wait_until
from tests.support.slack import TOKEN, FakeSlack

pytestmark = [pytest.mark.e2e, pytest.mark.fault, pytest.mark.django_db(transaction=True)]

RECEIVER_HOLD = 1.5  # seconds each receiver holds a request after reading it
DEPLOYMENTS = 4
SEND_THREADS = 16  # of 24 deliveries: 16 in flight at once, 8 waiting their turn
KINDS = ("webhook", "sns", "slack", "newrelic", "teams", "pagerduty")


class HoldingReceivers:
    """The webhook, Teams and PagerDuty receivers and the SNS relay on one threaded local
    server: each records what it read, then holds before answering."""

    def __init__(self, server, *, moto_endpoint: str) -> None:
        self.moto_endpoint = moto_endpoint
        self.requests: dict[str, list[Request]] = {"webhook": [], "teams": [], "pagerduty": []}
        self.publishes = 0
        self._lock = threading.Lock()
        server.expect_request("/hook").respond_with_handler(self._answer("webhook", 204, ""))
        server.expect_request("/teams/hook").respond_with_handler(self._answer("teams", 202, ""))
        server.expect_request("/v2/change/enqueue").respond_with_handler(
            self._answer("pagerduty", 202, json.dumps({"status": "success", "message": "ok"}))
        )
        server.expect_request("/sns").respond_with_handler(self._relay)

    def _answer(self, kind: str, status: int, body: str):
        def handle(request: Request) -> Response:
            request.get_data()  # read it all: the provider has it now
            with self._lock:
                self.requests[kind].append(request)
            time.sleep(RECEIVER_HOLD)
            return Response(body, status=status, content_type="application/json")

        return handle

    def _relay(self, request: Request) -> Response:
        """SNS: forward to moto (which delivers to the queue), hold, then answer."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        answer = requests.post(
            self.moto_endpoint + "/", data=request.get_data(), headers=headers, timeout=10
        )
        with self._lock:
            self.publishes += 1
        time.sleep(RECEIVER_HOLD)
        return Response(
            answer.content,
            status=answer.status_code,
            content_type=answer.headers.get("Content-Type", "text/xml"),
        )

    def received(self) -> int:
        with self._lock:
            return sum(len(r) for r in self.requests.values()) + self.publishes


def fifo_topic_with_queue(endpoint: str):
    sns = boto3.client("sns", region_name=REGION, endpoint_url=endpoint)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
    arn = sns.create_topic(Name="deploys.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    queue_url = sqs.create_queue(QueueName="deploys.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    def drain() -> list[dict]:
        """Every message the queue received, each deleted once read."""
        bodies, empty = [], 0
        while empty < 2:
            answer = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
            )
            messages = answer.get("Messages", [])
            empty = 0 if messages else empty + 1
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    return arn, drain


def setups_create(httpserver, arn: str) -> dict[str, int]:
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    events = ["succeeded"]
    made = [
        WebhookSetup.objects.create(
            registration=registration, url=httpserver.url_for("/hook"), events=events
        ),
        SnsSetup.objects.create(registration=registration, topic=arn, events=events),
        SlackSetup.objects.create(
            registration=registration, bot_token=TOKEN, channel="C0DEPLOYS", events=events
        ),
        NewRelicSetup.objects.create(
            registration=registration, application_name="storefront-web", events=events
        ),
        TeamsSetup.objects.create(
            registration=registration, webhook_url=httpserver.url_for("/teams/hook"), events=events
        ),
        PagerDutySetup.objects.create(
            registration=registration,
            routing_key="R0123456789abcdef0123456789abcde",
            events=events,
        ),
    ]
    return {setup.kind: setup.pk for setup in made}


def burst_create(store: OrmStore, setups: dict[str, int]) -> list[DeliveryKey]:
    """A burst of succeeded deployments, each to every setup, all due now."""
    keys = []
    for n in range(DEPLOYMENTS):
        event = deployment_event(f"d-KILL{n:05d}", "storefront", status="Succeeded")
        event = event.with_event(Event.SUCCEEDED)
        store.deployment_save(event, seen_at=timezone.now())
        for kind, setup_id in setups.items():
            key = DeliveryKey(event.deployment_id, "succeeded", setup_id)
            assert store.delivery_create(key, kind=kind, event=event)
            keys.append(key)
    return keys


def in_flight_by_kind() -> Counter:
    """Deliveries the ledger holds as claimed with no outcome: the sends in flight."""
    return Counter(
        m.Delivery.objects.filter(in_flight_since__isnull=False).values_list("kind", flat=True)
    )


def test_a_kill_mid_send_duplicates_only_what_no_provider_can_recognise(
    aws, httpserver, newrelic, tmp_path
):
    newrelic.add_application("storefront-web")
    newrelic.hold = RECEIVER_HOLD
    slack = FakeSlack(httpserver, hold=RECEIVER_HOLD)
    receivers = HoldingReceivers(httpserver, moto_endpoint=aws.endpoint)
    arn, drain = fifo_topic_with_queue(aws.endpoint)
    setups = setups_create(httpserver, arn)
    store = OrmStore()
    keys = burst_create(store, setups)
    env = service_env(
        **aws.env,
        AWS_ENDPOINT_URL_SNS=httpserver.url_for("/sns"),
        NEW_RELIC_API_URL=newrelic.url,
        NEW_RELIC_API_KEY=API_KEY,
        SLACK_API_URL=httpserver.url_for("/api").rstrip("/"),
        PAGERDUTY_EVENTS_URL=httpserver.url_for("").rstrip("/"),
        NOTIFIER_URL_ALLOWLIST="127.0.0.1",
        NOTIFIER_POLL_INTERVAL="0.3",
        NOTIFIER_LOOP_SECONDS="60",
        NOTIFIER_SEND_TIMEOUT="3",
        NOTIFIER_CLAIM_LEASE="4",
        NOTIFIER_RETRY_BASE="0.5",
        NOTIFIER_SEND_THREADS=str(SEND_THREADS),
        NOTIFIER_NODE_LOCK=str(tmp_path / "node.lock"),  # this run's node, not the machine's
    )

    def received() -> int:
        return receivers.received() + len(slack.posts()) + len(newrelic.markers)

    call_command("ensure_schedule", "--start-now", stdout=io.StringIO())
    first = ServiceProcess("qcluster-first", ["qcluster"], env, tmp_path)
    try:
        wait_until(
            lambda: received() >= SEND_THREADS - 2,
            timeout=60,
            what="the burst to reach the receivers\n" + first.output()[-3000:],
        )
    finally:
        first.kill()  # SIGKILL the cluster's process group, sends held at the receivers
    in_flight = in_flight_by_kind()
    assert sum(in_flight.values()) >= SEND_THREADS - 2, in_flight
    assert set(in_flight) == set(KINDS), f"every kind has sends in flight: {in_flight}"

    call_command("ensure_schedule", "--start-now", stdout=io.StringIO())
    second = ServiceProcess("qcluster-second", ["qcluster"], env, tmp_path)
    try:
        wait_until(
            lambda: m.Delivery.objects.filter(state=DELIVERED).count() == len(keys),
            timeout=120,
            interval=0.5,
            what="every delivery to be delivered\n" + second.output()[-4000:],
        )
    finally:
        second.stop()

    by_kind = {
        kind: {k.delivery_id for k in keys if k.setup_id == pk} for kind, pk in setups.items()
    }
    report = {}

    # Webhook: repeats carry the same X-Notifier-Delivery; a receiver dropping repeats sees one.
    hooks = Counter(r.headers["X-Notifier-Delivery"] for r in receivers.requests["webhook"])
    assert set(hooks) == by_kind["webhook"]
    report["webhook"] = (sum(hooks.values()) - len(hooks), 0)

    # SNS FIFO: the queue receives each deployment's message once.
    queued = Counter(body["deployment_id"] for body in drain())
    assert queued == Counter({f"d-KILL{n:05d}": 1 for n in range(DEPLOYMENTS)})
    report["sns"] = (receivers.publishes - DEPLOYMENTS, 0)

    # Slack: one post per delivery id (found by its metadata instead of posted again).
    posted = Counter(body["metadata"]["event_payload"]["delivery_id"] for body in slack.posts())
    assert posted == Counter(dict.fromkeys(by_kind["slack"], 1))
    assert any(method == "conversations.history" for method, _ in slack.calls)
    report["slack"] = (0, 0)

    # New Relic: one marker per delivery id (found in the application's deployments list).
    markers = Counter(
        marker["body"]["deployment"]["changelog"].rsplit(" ", 1)[-1] for marker in newrelic.markers
    )
    assert markers == Counter(dict.fromkeys(by_kind["newrelic"], 1))
    assert newrelic.listings >= 1
    report["newrelic"] = (0, 0)

    # Teams and PagerDuty cannot recognise a repeat: at most the sends in flight again.
    for kind in ("teams", "pagerduty"):
        arrived = len(receivers.requests[kind])
        repeats = arrived - DEPLOYMENTS
        assert 0 <= repeats <= in_flight[kind], (kind, arrived, in_flight)
        report[kind] = (repeats, repeats)

    lines = [
        f"{kind}: {in_flight[kind]} in flight at the kill, {sent_again} sent again, "
        f"{seen_twice} duplicate(s) as the receiver sees them"
        for kind, (sent_again, seen_twice) in report.items()
    ]
    print("\n".join(["", "SIGKILL with sends in flight:", *lines]))
