"""A deployment's outcome is always the last word a setup hears, for every channel kind, on
the real local servers the channel tests use (tests/support/sinks.py):

- a started notification that falls due after the outcome was delivered to the same setup is
  recorded as superseded and not sent;
- a slow started notification still in flight when the outcome is dispatched: the outcome
  waits for it, so it takes effect last (Slack with a bot token: the message the setup's
  stored ts names is the outcome's).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field

import boto3
import pytest
from django.db import close_old_connections
from django.utils import timezone
from werkzeug import Response

from channels import aws as aws_clients
from channels.email import EmailSetup
from channels.newrelic import NERDGRAPH, NewRelicSetup
from channels.pagerduty import PagerDutySetup
from channels.ses import SesSetup
from channels.slack import SlackMessage, SlackSetup
from channels.sns import SnsSetup
from channels.teams import TeamsSetup
from channels.webhook import WebhookSetup
from notifier.delivery_order import related_events
from notifier.dispatch import deliveries_create, delivery_send
from notifier.env import email_from_url
from notifier.events import DeploymentEvent, Event
from notifier.storage.base import DELIVERED, SUPERSEDED, DeliveryKey
from notifier.storage.orm import OrmStore
from registrations.models import NotificationSetup, Registration
from tests.support.aws import REGION
from tests.support.dynamodb import dynamo_store
from tests.support.processes import wait_until
from tests.support.sinks import (
    MotoRelay,
    Recorder,
    http_sink,
    said,
    smtp_sink,
    sns_topic_with_queue,
)
from tests.support.slack import TOKEN, FakeSlack

pytestmark = pytest.mark.django_db(transaction=True)

DEPLOYMENT = "d-RACE00001"
HANG = 1.0
EVENTS = ["started", "succeeded", "failed", "stopped"]
KINDS = ["newrelic", "email", "ses", "sns", "slack-webhook", "slack-bot", "teams", "pagerduty"]
KINDS += ["webhook"]


@dataclass
class Sink:
    setup: NotificationSetup
    recorder: Recorder
    last_word: object = None  # a function -> the event the sink shows last for the deployment
    stops: list = field(default_factory=list)

    def words(self) -> list[str]:
        return self.recorder.words


def json_answer(body: str, status: int = 200):
    return lambda: Response(body, status=status, content_type="application/json")


def text_answer(body: str, status: int = 200):
    return lambda: Response(body, status=status)


def build_sink(kind: str, *, request, registration: Registration, hang: float) -> Sink:
    httpserver = request.getfixturevalue("httpserver")
    settings = request.getfixturevalue("settings")
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    recorder = Recorder(DEPLOYMENT, hang=hang)
    common = {"registration": registration, "events": EVENTS}
    if kind == "newrelic":
        settings.NEW_RELIC_API_KEY = "NRAK-TESTKEY"
        settings.NEW_RELIC_NERDGRAPH_URL = http_sink(
            httpserver,
            "/graphql",
            recorder,
            json_answer(
                '{"data": {"changeTrackingCreateDeployment": '
                '{"deploymentId": "dep-1", "entityGuid": "MXxBUE18QVBQTElDQVRJT058MQ"}}}'
            ),
        )
        setup = NewRelicSetup.objects.create(
            api=NERDGRAPH, entity_guid="MXxBUE18QVBQTElDQVRJT058MQ", **common
        )
        return Sink(setup, recorder)
    if kind == "slack-webhook":
        url = http_sink(httpserver, "/services/T0/B0/abcdefghij", recorder, text_answer("ok"))
        return Sink(SlackSetup.objects.create(webhook_url=url, **common), recorder)
    if kind == "slack-bot":
        settings.SLACK_API_URL = httpserver.url_for("/api").rstrip("/")
        slack = FakeSlack(
            httpserver,
            hold=hang,
            hold_when=lambda body: said(body["text"], DEPLOYMENT) == "started",
        )
        setup = SlackSetup.objects.create(bot_token=TOKEN, channel="#deploys", **common)

        def last_word():
            stored = SlackMessage.objects.get(setup_id=setup.pk, deployment_id=DEPLOYMENT)
            return said(slack.messages[stored.ts]["text"], DEPLOYMENT), stored.event

        sink = Sink(setup, recorder, last_word)
        sink.slack = slack
        sink.words = lambda: [said(body["text"], DEPLOYMENT) for _, body in slack.calls]
        return sink
    if kind == "teams":
        url = http_sink(httpserver, "/workflows/abc/invoke", recorder, text_answer("", 202))
        return Sink(TeamsSetup.objects.create(webhook_url=url, **common), recorder)
    if kind == "pagerduty":
        settings.PAGERDUTY_EVENTS_URL = httpserver.url_for("").rstrip("/")
        http_sink(
            httpserver,
            "/v2/change/enqueue",
            recorder,
            json_answer('{"status": "success", "message": "Change event processed"}', 202),
        )
        setup = PagerDutySetup.objects.create(routing_key="R" * 32, **common)
        return Sink(setup, recorder)
    if kind == "webhook":
        url = http_sink(httpserver, "/hooks/deploys", recorder, text_answer("", 204))
        setup = WebhookSetup.objects.create(url=url, secret="hmac-secret-value", **common)
        return Sink(setup, recorder)
    if kind == "email":
        controller, _ = smtp_sink(recorder)
        settings.EMAIL_URL = f"smtp://127.0.0.1:{controller.port}"
        for name, value in email_from_url(settings.EMAIL_URL).items():
            setattr(settings, name, value)
        settings.NOTIFIER_FROM_EMAIL = "deploys@example.com"
        setup = EmailSetup.objects.create(recipients="ops@example.com", **common)
        return Sink(setup, recorder, stops=[controller.stop])
    return aws_sink(kind, request=request, common=common, recorder=recorder)


def aws_sink(kind: str, *, request, common: dict, recorder: Recorder) -> Sink:
    moto = request.getfixturevalue("aws")
    settings = request.getfixturevalue("settings")
    monkeypatch = request.getfixturevalue("monkeypatch")
    relay = MotoRelay(moto.endpoint, recorder)
    service = "SESV2" if kind == "ses" else "SNS"
    monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", relay.url)
    aws_clients.reset_clients()
    request.addfinalizer(aws_clients.reset_clients)
    if kind == "ses":
        settings.NOTIFIER_SES_FROM_ALLOWED = ["@example.com"]
        boto3.client("sesv2", region_name=REGION).create_email_identity(
            EmailIdentity="deploys@example.com"
        )
        setup = SesSetup.objects.create(
            from_address="deploys@example.com", recipients="ops@example.com", **common
        )

        def words():
            from moto.ses.models import ses_backends

            from tests.support.aws import ACCOUNT

            sent = ses_backends[ACCOUNT][REGION].sent_messages
            return [said(str(m.subject), DEPLOYMENT) for m in sent]

    else:
        arn, received = sns_topic_with_queue()
        setup = SnsSetup.objects.create(topic=arn, **common)

        def words():
            return [said(m["Subject"], DEPLOYMENT) for m in received()]

    sink = Sink(setup, recorder, stops=[relay.stop])
    sink.words = words
    return sink


@pytest.fixture
def sink_for(request):
    made: list[Sink] = []

    def make(kind: str, *, hang: float = 0.0) -> Sink:
        registration = Registration.objects.create(codedeploy_application_name="storefront")
        sink = build_sink(kind, request=request, registration=registration, hang=hang)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        for stop in sink.stops:
            stop()


STARTED = DeploymentEvent(
    deployment_id=DEPLOYMENT,
    application="storefront",
    deployment_group="production",
    status="InProgress",
    event=Event.STARTED,
    creator="ana",
    create_time=timezone.now(),
)
SUCCEEDED = dataclasses.replace(
    STARTED, status="Succeeded", event=Event.SUCCEEDED, complete_time=timezone.now()
)


def in_background(key: DeliveryKey, *, store, states: dict) -> threading.Thread:
    """Send `key` on a thread of its own; its new state goes in states[key.event]."""

    def send():
        try:
            states[key.event] = delivery_send(key, store=store, holder="slow")
        finally:
            close_old_connections()

    sender = threading.Thread(target=send)
    sender.start()
    return sender


def wait_for_arrival(sink: Sink, kind: str) -> None:
    """Until the started notification has reached the sink (where it hangs)."""
    arrived = sink.slack.calls if kind == "slack-bot" else None
    wait_until(
        lambda: (len(arrived) if arrived is not None else sink.recorder.arrivals) >= 1,
        timeout=10,
        what="the started notification to reach the sink",
    )


def queue(store, event: DeploymentEvent, setup) -> DeliveryKey:
    store.deployment_save(event, seen_at=timezone.now())
    (key,) = deliveries_create(event, [setup], store=store)
    return key


@pytest.mark.parametrize("kind", KINDS)
def test_a_started_due_after_the_outcome_was_delivered_is_superseded_not_sent(sink_for, kind):
    sink = sink_for(kind)
    store = OrmStore()
    started = queue(store, STARTED, sink.setup)  # e.g. waiting to retry after a 503
    succeeded = queue(store, SUCCEEDED, sink.setup)

    assert delivery_send(succeeded, store=store, holder="a") == DELIVERED
    assert delivery_send(started, store=store, holder="a") == SUPERSEDED

    assert sink.words() == ["succeeded"]
    delivery = store.delivery_get(started)
    assert delivery.state == SUPERSEDED and delivery.last_error_code == "superseded"
    assert delivery.last_error == (
        "Superseded: the deployment had already succeeded when this was due"
    )
    if kind == "slack-bot":
        assert sink.last_word() == ("succeeded", "succeeded")
        assert [method for method, _ in sink.slack.calls] == ["chat.postMessage"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_slow_started_in_flight_when_the_outcome_is_dispatched_is_not_the_last_word(
    sink_for, kind
):
    sink = sink_for(kind, hang=HANG)
    store = OrmStore()
    started = queue(store, STARTED, sink.setup)
    states = {}
    sender = in_background(started, store=store, states=states)
    wait_for_arrival(sink, kind)
    succeeded = queue(store, SUCCEEDED, sink.setup)
    assert delivery_send(succeeded, store=store, holder="fast") == DELIVERED
    sender.join(timeout=30)

    assert states == {"started": DELIVERED}
    if kind == "slack-bot":
        assert sink.last_word() == ("succeeded", "succeeded")
        assert [method for method, _ in sink.slack.calls] == ["chat.postMessage", "chat.update"]
    else:
        assert sink.words() == ["started", "succeeded"]


@pytest.mark.parametrize("kind", ["webhook", "slack-bot"])
def test_the_outcome_waits_for_a_started_in_flight_on_dynamodb_too(aws, sink_for, kind):
    sink = sink_for(kind, hang=HANG)
    store = dynamo_store()
    started = queue(store, STARTED, sink.setup)
    states = {}
    sender = in_background(started, store=store, states=states)
    wait_for_arrival(sink, kind)
    assert store.delivery_get(started).sending_since is not None
    succeeded = queue(store, SUCCEEDED, sink.setup)
    assert delivery_send(succeeded, store=store, holder="fast") == DELIVERED
    sender.join(timeout=30)
    assert states == {"started": DELIVERED}
    if kind == "slack-bot":
        assert sink.last_word() == ("succeeded", "succeeded")
    else:
        assert sink.words() == ["started", "succeeded"]
    late = queue(store, STARTED.with_event(Event.READY), sink.setup)
    assert delivery_send(late, store=store, holder="late") == SUPERSEDED


def test_only_the_events_a_setup_hears_are_checked_and_an_outcome_checks_only_the_earlier():
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    markers = NewRelicSetup.objects.create(
        registration=registration, application_name="web", events=["succeeded"]
    )
    chat = SlackSetup.objects.create(
        registration=registration, webhook_url="https://hooks.slack.com/x", events=EVENTS
    )

    def related(event, setup):
        return related_events(DeliveryKey(DEPLOYMENT, event, 1), setup)

    assert related("succeeded", markers) == []  # nothing else to read
    assert related("succeeded", chat) == ["started"]
    assert related("started", chat) == ["succeeded", "failed", "stopped"]
    assert related("started", None) == []
