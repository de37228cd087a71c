"""Telling the person who deployed: an email setup that asks for them waits (up to
NOTIFIER_DEPLOYER_WAIT, uncounted) for CloudTrail to name them, every other setup sends at
once; a person found meanwhile gets the email (real SMTP on loopback), one never found is
noted on the delivery. Slack mentions them, New Relic and webhooks carry who it was."""

from __future__ import annotations

import json
import time

import pytest

from channels import newrelic
from channels.email import EmailSetup
from channels.slack import SlackSetup, message_payload
from notifier.dispatch import WAITING, Dispatcher, delivery_send
from notifier.events import Deployer, DeploymentEvent, Event
from notifier.storage.base import DELIVERED, PENDING
from notifier.storage.orm import OrmStore
from notifier.whodeployed import cloudtrail_event_record
from registrations.models import Registration
from registrations.people import Person
from tests.channels.test_email import Mailbox, smtp  # noqa: F401  (the SMTP fixture)
from tests.notifier.test_poller import poll
from tests.registrations.test_api import api, post  # noqa: F401  (the API fixture)
from tests.support.cloudtrail import assumed_role, create_deployment_record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setups():
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    tells = EmailSetup.objects.create(registration=registration, recipients="ops@example.com")
    fixed = EmailSetup.objects.create(
        registration=registration, recipients="audit@example.com", notify_deployer=False
    )
    return tells, fixed


def sent_to(mailbox: Mailbox) -> list[list[str]]:
    return [sorted(rcpts) for rcpts, _ in mailbox.messages]


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_person_found_during_the_wait_gets_the_email(codedeploy, smtp, setups, settings):  # noqa: F811
    settings.NOTIFIER_DEPLOYER_WAIT = 30
    Person.objects.create(name="Ana Lima", email="ana@example.com")
    tells, _ = setups
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    report = poll(store)
    dispatcher = Dispatcher(store=store, holder="n1", threads=2)
    try:
        dispatcher.dispatch_due()
        wait_for(lambda: len(smtp.messages) == 1)  # the fixed-recipient setup, at once
        assert sent_to(smtp) == [["audit@example.com"]]
        (waiting,) = [k for k in report.deliveries if k.setup_id == tells.pk]
        wait_for(lambda: waiting in dispatcher.waiting)
        assert store.delivery_get(waiting).state == PENDING
        assert store.delivery_get(waiting).attempts == 0  # the wait is no failed attempt

        detail = create_deployment_record(
            deployment, identity=assumed_role("AWSReservedSSO_Dev", "ana@example.com")
        )
        cloudtrail_event_record(detail, store=store, source="default")
        wait_for(lambda: (dispatcher.dispatch_due(), len(smtp.messages) == 2)[1])
    finally:
        dispatcher.close()
    assert sent_to(smtp)[1] == ["ana@example.com", "ops@example.com"]
    body = smtp.messages[1][1].get_body(("plain",)).get_content()
    assert "Started by: Ana Lima" in body
    delivery = store.delivery_get(waiting)
    assert (delivery.state, delivery.attempts) == (DELIVERED, 1)
    assert "unknown" not in delivery.history[0].detail


def test_a_person_never_found_leaves_the_fixed_recipients_and_a_note(
    codedeploy,
    smtp,  # noqa: F811
    setups,
    settings,
):
    settings.NOTIFIER_DEPLOYER_WAIT = 1
    tells, _ = setups
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    (key,) = [k for k in poll(store).deliveries if k.setup_id == tells.pk]

    assert delivery_send(key, store=store, holder="a") == WAITING
    time.sleep(1.1)
    assert delivery_send(key, store=store, holder="a") == DELIVERED
    assert sent_to(smtp) == [["ops@example.com"]]
    delivery = store.delivery_get(key)
    assert delivery.attempts == 1
    assert "person who deployed unknown after 1 s" in delivery.history[0].detail
    body = smtp.messages[0][1].get_body(("plain",)).get_content()
    assert "Started by: an AWS user (not known yet)" in body


def test_a_deployment_no_person_started_is_sent_at_once(codedeploy, smtp, setups, settings):  # noqa: F811
    settings.NOTIFIER_DEPLOYER_WAIT = 30
    tells, _ = setups
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded", creator="autoscaling")
    (key,) = [k for k in poll(store).deliveries if k.setup_id == tells.pk]
    assert delivery_send(key, store=store, holder="a") == DELIVERED
    body = smtp.messages[0][1].get_body(("plain",)).get_content()
    assert "Started by: Auto Scaling" in body


def ana_event() -> DeploymentEvent:
    return DeploymentEvent(
        deployment_id="d-AAAAAAAAA",
        application="storefront",
        deployment_group="production",
        status="Succeeded",
        event=Event.SUCCEEDED,
        creator="user",
        deployer=Deployer(
            kind="person",
            name="Ana Lima",
            email="ana@example.com",
            slack_user_id="U0ANA",
            principal_arn="arn:aws:iam::123456789012:user/ana",
            rule="People rule: iam user name ana is Ana Lima",
        ),
    )


def test_slack_mentions_the_person_when_asked():
    event = ana_event()
    quiet = message_payload(event, SlackSetup(webhook_url="https://hooks.slack.com/x"))
    assert "<@U0ANA>" not in quiet["text"]
    assert "by Ana Lima" in quiet["text"]
    loud = SlackSetup(webhook_url="https://hooks.slack.com/x", mention_deployer=True)
    assert message_payload(event, loud)["text"].endswith("cc <@U0ANA>")


def test_new_relic_and_webhooks_say_who_deployed():
    assert newrelic.marker_body(ana_event())["deployment"]["user"] == "Ana Lima"
    payload = json.loads(json.dumps(ana_event().to_dict()))
    assert payload["deployer"]["name"] == "Ana Lima"
    assert payload["deployer"]["principal_arn"].endswith(":user/ana")


def test_the_api_turns_telling_the_person_on_for_new_email_setups(api):  # noqa: F811
    body = {
        "codedeploy_application_name": "storefront",
        "notifications": [
            {"email_notification": {"recipients": "ops@example.com"}},
            {"email_notification": {"recipients": "a@example.com", "notify_deployer": False}},
        ],
    }
    created = post(api, body)
    assert created.status_code == 201, created.content
    flags = [n["email_notification"]["notify_deployer"] for n in created.json()["notifications"]]
    assert flags == [True, False]
