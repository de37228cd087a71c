"""SES and SNS against moto's server over HTTP, and the one AWS error mapping they share."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from channels import aws as aws_errors
from channels import ses, sns
from channels.base import ChannelError, SendContext
from channels.ses import SesSetup
from channels.sns import SnsSetup, publish_request, sns_subject
from tests.support.aws import ACCOUNT, REGION
from tests.support.services import free_port


@pytest.fixture
def aws_channels(aws, settings):
    """moto, fresh, and channel clients built for it; SES setups may send as example.com."""
    settings.NOTIFIER_SES_FROM_ALLOWED = ["@example.com"]
    aws_errors.reset_clients()
    yield aws
    aws_errors.reset_clients()


def client_error(code: str, status: int, message: str = "text") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Publish",
    )


@pytest.mark.parametrize(
    "code, status, retryable",
    [
        ("Throttling", 400, True),
        ("ThrottlingException", 400, True),
        ("TooManyRequestsException", 429, True),
        ("InternalFailure", 500, True),
        ("ServiceUnavailable", 503, True),
        ("AuthorizationError", 403, False),
        ("InvalidParameter", 400, False),
        ("MessageRejected", 400, False),
    ],
)
@pytest.mark.fault
def test_throttling_and_5xx_are_retryable_other_client_errors_are_not(code, status, retryable):
    error = aws_errors.error_for(client_error(code, status), what="Amazon SNS")
    assert error.retryable is retryable
    assert code in error.message and error.response_status == status


@pytest.mark.fault
def test_an_unreachable_endpoint_is_retryable(monkeypatch, aws_channels, failed_event):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", f"http://127.0.0.1:{free_port()}")
    aws_errors.reset_clients()
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:deployments"
    with pytest.raises(ChannelError) as caught:
        sns.send(failed_event, SnsSetup(topic=arn))
    assert caught.value.retryable


# --- SES ----------------------------------------------------------------------------------


def ses_sent():
    from moto.ses.models import ses_backends

    return ses_backends[ACCOUNT][REGION].sent_messages


def test_ses_sends_text_and_html(aws_channels, failed_event):
    client = boto3.client("sesv2", region_name=REGION)
    client.create_email_identity(EmailIdentity="deploys@example.com")
    setup = SesSetup(from_address="deploys@example.com", recipients="ops@example.com")

    delivery = ses.send(failed_event, setup)

    assert delivery.detail.startswith("SES message ")
    (message,) = ses_sent()
    assert message.source == "deploys@example.com"
    assert message.destinations["ToAddresses"] == ["ops@example.com"]
    assert message.subject == "❌ storefront/canary deployment d-3HX9WQ2LA failed"
    assert "HOOK_EXECUTION_FAILURE" in message.body  # moto keeps the HTML part


def test_ses_request_has_both_parts(failed_event):
    request = ses.email_request(
        failed_event,
        SesSetup(from_address="d@example.com", recipients="a@example.com b@example.com"),
    )
    body = request["Content"]["Simple"]["Body"]
    assert "Rollback: deployment d-5RT8YB3NC" in body["Text"]["Data"]
    assert "<h2" in body["Html"]["Data"]
    assert request["Destination"]["ToAddresses"] == ["a@example.com", "b@example.com"]


def test_an_unverified_sender_is_a_clear_permanent_error(aws_channels, failed_event):
    setup = SesSetup(from_address="nobody@example.com", recipients="ops@example.com")
    with pytest.raises(ChannelError) as caught:
        ses.send(failed_event, setup)
    assert not caught.value.retryable
    assert "not verified" in caught.value.message
    assert "Verify nobody@example.com (or its domain) in SES" in caught.value.message
    assert ses_sent() == []


# --- SNS ----------------------------------------------------------------------------------


@pytest.fixture
def topic_with_queue(aws_channels):
    sns_client = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    arn = sns_client.create_topic(Name="deployments")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="deployments")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns_client.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)

    def received() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    return arn, received


@pytest.mark.parametrize("by", ["arn", "name"])
def test_sns_publishes_the_event_as_json_with_attributes(topic_with_queue, failed_event, by):
    arn, received = topic_with_queue
    context = SendContext(delivery_id="8d3f0b8e-1c1e-5a7e-9c55-0a4b2f6f1d11")
    sns.send(failed_event, SnsSetup(topic=arn if by == "arn" else "deployments"), context)

    (envelope,) = received()
    assert envelope["TopicArn"] == arn
    assert envelope["Subject"] == "CodeDeploy storefront/canary d-3HX9WQ2LA failed"
    assert json.loads(envelope["Message"]) == json.loads(json.dumps(failed_event.to_dict()))
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {
        "delivery_id": "8d3f0b8e-1c1e-5a7e-9c55-0a4b2f6f1d11",  # subscribers can drop repeats
        "application": "storefront",
        "group": "canary",
        "event": "failed",
        "status": "Failed",
        "failed_at": "ApplicationStart",  # where it broke, for filter policies
        "test": "false",  # "true" on a test send: a filter policy keeps those out
    }
    failure = json.loads(envelope["Message"])["failure"]
    assert failure["target_id"] == "i-0a1b2c3d4e5f60718"
    assert failure["script_name"] == "scripts/start_server.sh"


def test_a_missing_topic_is_permanent(aws_channels, failed_event):
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:nope"
    with pytest.raises(ChannelError, match="does not exist") as caught:
        sns.send(failed_event, SnsSetup(topic=arn))
    assert not caught.value.retryable


def test_fifo_topics_get_a_group_and_the_delivery_id_to_deduplicate_by(failed_event):
    request = publish_request(
        failed_event, SnsSetup(topic="x"), arn="arn:aws:sns:r:1:t.fifo", delivery_id="abc-1"
    )
    assert request["MessageGroupId"] == "d-3HX9WQ2LA"
    assert request["MessageDeduplicationId"] == "abc-1"


def test_the_subject_is_what_sns_accepts():
    subject = sns_subject("✅ line one\nline two " + "x" * 200)
    assert subject.isascii() and "\n" not in subject and len(subject) == 100


def test_a_topic_must_be_an_arn_or_a_name(registration):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        SnsSetup(registration=registration, topic="not a topic!", events=["failed"]).full_clean()
    assert "topic ARN" in caught.value.message_dict["topic"][0]
