"""Email, SES and SNS reach the demo inbox the way the demo runs them: a real SMTP server,
moto's SES and moto's SNS delivering to an HTTP subscription."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from channels import aws as aws_errors
from channels import email, ses, sns
from channels.email import EmailSetup
from channels.messages import sample_event
from channels.ses import SesSetup
from channels.sns import SnsSetup
from notifier.demo.collect import SmtpInbox, collect_ses
from notifier.demo.models import InboxMessage
from notifier.env import email_from_url
from tests.support.aws import ACCOUNT, REGION

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_messages(channel: str, count: int = 1) -> list[InboxMessage]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = list(InboxMessage.objects.filter(channel=channel))
        if len(found) >= count:
            return found
        time.sleep(0.05)
    return list(InboxMessage.objects.filter(channel=channel))


@pytest.fixture
def smtp_inbox(settings):
    inbox = SmtpInbox().start()
    settings.EMAIL_URL = inbox.url
    for name, value in email_from_url(inbox.url).items():
        setattr(settings, name, value)
    settings.NOTIFIER_FROM_EMAIL = "deploys@example.com"
    yield inbox
    inbox.stop()


@pytest.fixture
def aws_channels(aws, settings):
    settings.NOTIFIER_SES_FROM_ALLOWED = ["@example.com"]
    aws_errors.reset_clients()
    yield aws
    aws_errors.reset_clients()


def test_the_smtp_inbox_records_a_real_email_with_its_html(smtp_inbox, demo, signed_in):
    event = sample_event("failed")

    email.send(event, EmailSetup(recipients="ops@example.com"))

    (message,) = wait_for_messages("email")
    assert message.title == message.payload["subject"]
    assert event.deployment_id in message.title
    assert message.payload["to"] == ["ops@example.com"]
    assert message.payload["from"] == "deploys@example.com"
    assert "HOOK_EXECUTION_FAILURE" in message.payload["html"]
    assert message.payload["text"]
    assert message.headers["X-Notifier-Delivery"]
    assert (message.deployment_id, message.event) == (event.deployment_id, "failed")
    page = signed_in.get("/demo/inbox/?channel=email").content.decode()
    assert '<iframe class="email-html"' in page and " sandbox " in page
    assert "&lt;h2" in page  # the HTML sits escaped in srcdoc, never in the page itself


def test_collect_ses_copies_what_ses_setups_sent_once(aws_channels):
    boto3.client("sesv2", region_name=REGION).create_email_identity(
        EmailIdentity="deploys@example.com"
    )
    setup = SesSetup(from_address="deploys@example.com", recipients="ops@example.com")
    event = sample_event("failed")
    ses.send(event, setup)
    seen: set = set()

    assert collect_ses(ACCOUNT, REGION, seen) == 1
    assert collect_ses(ACCOUNT, REGION, seen) == 0

    (message,) = InboxMessage.objects.filter(channel="ses")
    assert message.payload["from"] == "deploys@example.com"
    assert message.payload["to"] == ["ops@example.com"]
    assert "HOOK_EXECUTION_FAILURE" in message.payload["html"]
    assert message.deployment_id == event.deployment_id


def test_sns_delivers_to_the_inbox_over_an_http_subscription(aws_channels, demo, signed_in):
    client = boto3.client("sns", region_name=REGION)
    arn = client.create_topic(Name="deployments")["TopicArn"]
    client.subscribe(TopicArn=arn, Protocol="http", Endpoint=f"{demo}/sns/")
    event = sample_event("failed")

    sns.send(event, SnsSetup(topic=arn))

    (message,) = wait_for_messages("sns")
    assert message.target == arn
    assert (message.deployment_id, message.event) == (event.deployment_id, "failed")
    assert json.loads(message.payload["Message"])["deployment_id"] == event.deployment_id
    page = signed_in.get("/demo/inbox/?channel=sns").content.decode()
    assert message.payload["Subject"] in page
    assert "&quot;error_code&quot;: &quot;HOOK_EXECUTION_FAILURE&quot;" in page  # pretty JSON
