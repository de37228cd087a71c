"""Test sends are recognisable by machines, not only by people: every kind marks them where
its provider lets a program read it, on the real local servers (moto, HTTP, SMTP). They send
the event the person chose (default succeeded) for one of the application's real groups."""

from __future__ import annotations

import json

import boto3
import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels import aws as aws_clients
from channels.base import SendContext
from channels.email import EmailSetup
from channels.messages import sample_event
from channels.newrelic import NERDGRAPH, NewRelicSetup, change_tracking_request
from channels.pagerduty import PagerDutySetup
from channels.ses import SesSetup, email_request
from channels.slack import SlackMessage, SlackSetup
from channels.sns import SnsSetup
from channels.teams import TeamsSetup
from channels.webhook import WebhookSetup
from notifier.dispatch import send_once
from notifier.events import Event
from notifier.models import Delivery as LedgerDelivery
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.testing import FALLBACK_GROUP, TEST_DESCRIPTION, registration_test_send
from tests.support.aws import ACCOUNT, REGION
from tests.support.history import deployment_event, seed_deployment
from tests.support.sinks import Recorder, smtp_sink, sns_topic_with_queue
from tests.support.slack import TOKEN, FakeSlack

pytestmark = pytest.mark.django_db(transaction=True)

NOT_TESTS = {"test": [{"anything-but": "true"}]}  # what automation subscribes with


@pytest.fixture
def registration(db) -> Registration:
    return Registration.objects.create(
        codedeploy_application_name="storefront", deployment_groups="blue"
    )


@pytest.fixture
def api():
    user = User.objects.create_user("automation", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def sns_ready(aws):
    aws_clients.reset_clients()
    yield aws
    aws_clients.reset_clients()


def only(results):
    (result,) = results
    assert result.delivered, result.error
    return result


# --- SNS: a subscription filter keeps test sends away from automation --------------------


def test_an_sns_filter_policy_drops_a_test_send_and_passes_a_real_notification(
    sns_ready, registration
):
    arn, automation = sns_topic_with_queue("deployments", filter_policy=NOT_TESTS)
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    everything_url = sqs.create_queue(QueueName="everything")["QueueUrl"]
    everything_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:everything"
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=everything_arn)
    setup = SnsSetup.objects.create(registration=registration, topic=arn, events=["succeeded"])

    only(registration_test_send(registration=registration))
    assert automation() == []

    (test_message,) = sqs.receive_message(QueueUrl=everything_url)["Messages"]
    envelope = json.loads(test_message["Body"])
    assert envelope["MessageAttributes"]["test"]["Value"] == "true"
    assert json.loads(envelope["Message"])["test"] is True
    assert envelope["Subject"].startswith("[TEST] ")

    real = sample_event("succeeded", application="storefront", deployment_group="blue")
    context = SendContext(delivery_id="0b7e3f52-9d7c-5c55-8a57-2f6e3f0c1d11")
    assert send_once(real, setup, context=context).error is None
    (passed,) = automation()
    assert passed["MessageAttributes"]["test"]["Value"] == "false"
    assert "test" not in json.loads(passed["Message"])


# --- HTTP kinds ---------------------------------------------------------------------------


def test_a_webhook_test_says_so_in_a_header_and_in_the_body(httpserver, settings, registration):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    setup = WebhookSetup.objects.create(
        registration=registration, url=httpserver.url_for("/hook"), events=["succeeded"]
    )
    only(registration_test_send(registration=registration))
    real = sample_event("succeeded", application="storefront")
    send_once(real, setup, context=SendContext(delivery_id="a-real-delivery"))

    (test, _), (sent, _) = httpserver.log
    assert test.headers["X-Notifier-Test"] == "true" and test.get_json()["test"] is True
    assert "X-Notifier-Test" not in sent.headers and "test" not in sent.get_json()


def test_slack_tests_carry_test_metadata_and_never_take_over_a_real_message(
    httpserver, settings, registration
):
    settings.SLACK_API_URL = httpserver.url_for("/api").rstrip("/")
    slack = FakeSlack(httpserver)
    SlackSetup.objects.create(
        registration=registration, bot_token=TOKEN, channel="#deploys", events=["succeeded"]
    )
    only(registration_test_send(registration=registration))
    only(registration_test_send(registration=registration))

    first, second = slack.posts()
    assert first["metadata"]["event_payload"]["test"] is True
    assert first["text"].startswith("[TEST] ")
    assert second["text"].startswith("[TEST] ")  # posted anew, not an update of the first
    assert not SlackMessage.objects.exists()


def test_teams_pagerduty_and_new_relic_tests_say_so_in_their_own_fields(
    httpserver, settings, registration, newrelic
):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    settings.PAGERDUTY_EVENTS_URL = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/teams").respond_with_data("", status=202)
    httpserver.expect_request("/v2/change/enqueue").respond_with_json(
        {"status": "success", "message": "Change event processed"}, status=202
    )
    newrelic.add_application("web")
    common = {"registration": registration, "events": ["succeeded"]}
    TeamsSetup.objects.create(webhook_url=httpserver.url_for("/teams"), **common)
    PagerDutySetup.objects.create(routing_key="R" * 32, **common)
    NewRelicSetup.objects.create(application_name="web", **common)

    results = registration_test_send(registration=registration)

    assert all(r.delivered for r in results), [r.error for r in results]
    bodies = {r.path: r.get_json() for r, _ in httpserver.log if r.method == "POST"}
    card = bodies["/teams"]["attachments"][0]["content"]
    assert card["body"][0]["text"].startswith("[TEST] ")
    assert {"title": "Test", "value": "true"} in card["body"][2]["facts"]
    change = bodies["/v2/change/enqueue"]["payload"]
    assert change["summary"].startswith("[TEST] ")
    assert change["custom_details"]["test"] is True
    (marker,) = newrelic.markers
    assert marker["body"]["deployment"]["description"].startswith("TEST — ")
    assert marker["body"]["deployment"]["user"].startswith("TEST — ")


def test_a_nerdgraph_test_marker_says_so_in_description_and_user():
    setup = NewRelicSetup(api=NERDGRAPH, entity_guid="MXxBUE18QVBQTElDQVRJT058MQ")
    event = sample_event("succeeded")
    test = change_tracking_request(event, setup, test=True)["variables"]["deployment"]
    real = change_tracking_request(event, setup)["variables"]["deployment"]
    assert test["description"] == "TEST — " + real["description"]
    assert test["user"] == "TEST — " + real["user"]


# --- email --------------------------------------------------------------------------------


def test_an_email_test_has_a_test_header_and_subject(settings, registration):
    controller, mailbox = smtp_sink(Recorder("none"))
    try:
        settings.EMAIL_URL = f"smtp://127.0.0.1:{controller.port}"
        from notifier.env import email_from_url

        for name, value in email_from_url(settings.EMAIL_URL).items():
            setattr(settings, name, value)
        settings.NOTIFIER_FROM_EMAIL = "deploys@example.com"
        EmailSetup.objects.create(
            registration=registration, recipients="ops@example.com", events=["succeeded"]
        )
        only(registration_test_send(registration=registration))
    finally:
        controller.stop()
    (message,) = mailbox.messages
    assert message["X-Notifier-Test"] == "true"
    assert str(message["Subject"]).strip().startswith("[TEST] ")


def test_an_ses_test_has_a_test_subject_header_and_tag(sns_ready, settings, registration):
    settings.NOTIFIER_SES_FROM_ALLOWED = ["@example.com"]
    boto3.client("sesv2", region_name=REGION).create_email_identity(
        EmailIdentity="deploys@example.com"
    )
    setup = SesSetup.objects.create(
        registration=registration,
        from_address="deploys@example.com",
        recipients="ops@example.com",
        events=["succeeded"],
    )
    only(registration_test_send(registration=registration))
    from moto.ses.models import ses_backends

    (sent,) = ses_backends[ACCOUNT][REGION].sent_messages
    assert str(sent.subject).startswith("[TEST] ")
    request = email_request(sample_event("succeeded"), setup, test=True)
    assert {"Name": "X-Notifier-Test", "Value": "true"} in request["Content"]["Simple"]["Headers"]
    assert request["EmailTags"] == [{"Name": "test", "Value": "true"}]
    assert "EmailTags" not in email_request(sample_event("succeeded"), setup)


# --- which event, which group -------------------------------------------------------------


@pytest.fixture
def hook(httpserver, settings):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    httpserver.expect_request("/hook").respond_with_data("", status=204)

    def sent() -> list[dict]:
        return [r.get_json() for r, _ in httpserver.log]

    return httpserver.url_for("/hook"), sent


def test_a_test_sends_succeeded_by_default_and_the_event_the_api_names(api, hook, registration):
    url, sent = hook
    WebhookSetup.objects.create(registration=registration, url=url, events=list(Event))
    path = f"/api/registrations/{registration.pk}/test"

    assert api.post(path, format="json").status_code == 200
    response = api.post(path, {"event": "stopped"}, format="json")
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["event"] == "stopped" and result["deployment_group"] == "blue"
    assert [(m["event"], m["deployment_group"], m["test"]) for m in sent()] == [
        ("succeeded", "blue", True),
        ("stopped", "blue", True),
    ]
    assert all(m["description"] == TEST_DESCRIPTION for m in sent())
    assert LedgerDelivery.objects.count() == 0


def test_an_unknown_test_event_is_refused_by_field(api, registration):
    response = api.post(
        f"/api/registrations/{registration.pk}/test", {"event": "exploded"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["event"] == [
        '"exploded" is not an event: use started, ready, succeeded, failed or stopped.'
    ]


def test_the_admin_action_sends_the_chosen_event(client, hook, registration):
    url, sent = hook
    WebhookSetup.objects.create(registration=registration, url=url, events=["succeeded"])
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    page = client.get("/admin/registrations/registration/").content.decode()
    assert 'name="test_event"' in page

    response = client.post(
        "/admin/registrations/registration/",
        {
            "action": "send_test_notification",
            "_selected_action": [registration.pk],
            "test_event": "started",
        },
        follow=True,
    )
    assert "delivered" in response.content.decode()
    assert [m["event"] for m in sent()] == ["started"]


def test_the_group_comes_from_history_then_codedeploy_then_a_plain_test_group(
    api, hook, codedeploy
):
    url, sent = hook
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    WebhookSetup.objects.create(registration=registration, url=url, events=["succeeded"])

    only(registration_test_send(registration=registration))  # nothing known: no CodeDeploy app
    codedeploy.group("storefront", "eu-west-workers")
    only(registration_test_send(registration=registration))
    past = deployment_event("d-PAST00001", "storefront", group="green", created=timezone.now())
    seed_deployment(OrmStore(), past)
    only(registration_test_send(registration=registration))

    assert [m["deployment_group"] for m in sent()] == [
        FALLBACK_GROUP,
        "eu-west-workers",
        "green",
    ]
    assert "canary" not in {m["deployment_group"] for m in sent()}
