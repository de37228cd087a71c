"""Who SES setups may send as and which SNS topics they may publish to: refused when a setup
is saved (admin and API alike, through the model's validation) and again when it sends."""

from __future__ import annotations

import json

import boto3
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from channels import aws as channel_aws
from channels import ses, sns
from channels.base import ChannelError, ErrorCode
from channels.ses import SesSetup
from channels.sns import SnsSetup
from registrations.models import Registration
from tests.support.aws import ACCOUNT, REGION
from tests.support.services import free_port

OTHER_ACCOUNT = "210987654321"


@pytest.fixture
def aws_channels(aws):
    channel_aws.reset_clients()
    sns.service_account.cache_clear()
    yield aws
    channel_aws.reset_clients()
    sns.service_account.cache_clear()


@pytest.fixture
def api(db):
    client = APIClient()
    client.force_authenticate(User.objects.create_user("automation", is_staff=True))
    return client


def register(api, notification: dict):
    return api.post(
        "/api/registrations/",
        json.dumps({"codedeploy_application_name": "storefront", "notifications": [notification]}),
        content_type="application/json",
    )


def ses_errors(registration, **fields) -> dict:
    setup = SesSetup(
        registration=registration, recipients="ops@example.com", events=["failed"], **fields
    )
    try:
        setup.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def ses_sent():
    from moto.ses.models import ses_backends

    return ses_backends[ACCOUNT][REGION].sent_messages


# --- SES: the from-address -----------------------------------------------------------------


def test_by_default_ses_may_send_only_as_the_services_own_address(registration, settings):
    settings.NOTIFIER_FROM_EMAIL = "notifier@example.com"
    settings.NOTIFIER_SES_FROM_ALLOWED = []
    assert ses_errors(registration, from_address="notifier@example.com") == {}
    (message,) = ses_errors(registration, from_address="ceo@example.com")["from_address"]
    assert "from_address" in message and "NOTIFIER_SES_FROM_ALLOWED" in message
    assert "notifier@example.com" in message  # what is allowed instead


def test_ses_allows_listed_addresses_and_whole_domains(registration, settings):
    settings.NOTIFIER_SES_FROM_ALLOWED = ["deploys@example.com", "@notify.example.org"]
    assert ses_errors(registration, from_address="deploys@example.com") == {}
    assert ses_errors(registration, from_address="Deploys@Example.com") == {}
    assert ses_errors(registration, from_address="anyone@notify.example.org") == {}
    assert "from_address" in ses_errors(registration, from_address="ceo@example.com")
    assert "from_address" in ses_errors(registration, from_address="x@sub.notify.example.org")
    assert "from_address" in ses_errors(registration, from_address="x@evilnotify.example.org")


def test_the_api_refuses_an_ses_sender_that_is_not_allowed(api, settings):
    settings.NOTIFIER_SES_FROM_ALLOWED = ["deploys@example.com"]
    response = register(
        api, {"ses_notification": {"from_address": "ceo@example.com", "recipients": "a@b.co"}}
    )
    assert response.status_code == 400
    (message,) = response.json()["notifications"][0]["ses_notification"]["from_address"]
    assert "NOTIFIER_SES_FROM_ALLOWED" in message
    assert not Registration.objects.exists()


def test_the_admin_refuses_an_ses_sender_that_is_not_allowed(client, db, settings):
    import re

    from tests.registrations.test_admin import ADD_URL, management_data

    settings.NOTIFIER_SES_FROM_ALLOWED = ["deploys@example.com"]
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    html = client.get(ADD_URL).content.decode()
    prefix = re.search(r'name="([\w-]+)-__prefix__-from_address"', html).group(1)
    response = client.post(
        ADD_URL,
        {
            "codedeploy_application_name": "storefront",
            "enabled": "on",
            **management_data(html),
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-0-from_address": "ceo@example.com",
            f"{prefix}-0-recipients": "ops@example.com",
            f"{prefix}-0-events": ["failed"],
        },
    )
    assert response.status_code == 200
    assert "NOTIFIER_SES_FROM_ALLOWED" in response.content.decode()
    assert not Registration.objects.exists()


def test_an_ses_setup_written_straight_into_the_database_does_not_send(
    aws_channels, registration, failed_event, settings
):
    settings.NOTIFIER_SES_FROM_ALLOWED = ["deploys@example.com"]
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity="example.com")
    setup = SesSetup.objects.create(
        registration=registration, from_address="ceo@example.com", recipients="ops@example.com"
    )
    with pytest.raises(ChannelError) as caught:
        ses.send(failed_event, setup)
    assert not caught.value.retryable and caught.value.code == ErrorCode.BAD_CONFIG
    assert "NOTIFIER_SES_FROM_ALLOWED" in caught.value.message
    assert ses_sent() == []


# --- SNS: the topic ------------------------------------------------------------------------


def sns_errors(registration, topic: str) -> dict:
    try:
        SnsSetup(registration=registration, topic=topic, events=["failed"]).full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def test_by_default_sns_may_publish_only_to_the_services_own_account(aws_channels, registration):
    assert sns_errors(registration, f"arn:aws:sns:{REGION}:{ACCOUNT}:deployments") == {}
    assert sns_errors(registration, f"arn:aws:sns:eu-west-1:{ACCOUNT}:deployments") == {}
    assert sns_errors(registration, "deployments") == {}  # a name: in the service's account
    (message,) = sns_errors(registration, f"arn:aws:sns:{REGION}:{OTHER_ACCOUNT}:theirs")["topic"]
    assert "topic" in message and "NOTIFIER_SNS_TOPIC_ALLOWED" in message
    assert "own AWS account" in message


def test_sns_allows_the_listed_topic_patterns(aws_channels, registration, settings):
    settings.NOTIFIER_SNS_TOPIC_ALLOWED = [
        f"arn:aws:sns:*:{OTHER_ACCOUNT}:deploy-*",
        f"arn:aws:sns:{REGION}:{ACCOUNT}:ops",
    ]
    assert sns_errors(registration, f"arn:aws:sns:{REGION}:{OTHER_ACCOUNT}:deploy-web") == {}
    assert sns_errors(registration, "ops") == {}
    assert "topic" in sns_errors(registration, f"arn:aws:sns:{REGION}:{ACCOUNT}:deployments")
    assert "topic" in sns_errors(registration, f"arn:aws:sns:{REGION}:{OTHER_ACCOUNT}:other")
    # `*` stays within one part of the ARN
    settings.NOTIFIER_SNS_TOPIC_ALLOWED = ["arn:aws:sns:*"]
    assert "topic" in sns_errors(registration, f"arn:aws:sns:{REGION}:{ACCOUNT}:deployments")


def test_without_the_account_no_topic_is_allowed_by_default(
    aws_channels, registration, monkeypatch, settings
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{free_port()}")
    channel_aws.reset_clients()
    (message,) = sns_errors(registration, f"arn:aws:sns:{REGION}:{ACCOUNT}:deployments")["topic"]
    assert "set NOTIFIER_SNS_TOPIC_ALLOWED" in message
    settings.NOTIFIER_SNS_TOPIC_ALLOWED = [f"arn:aws:sns:*:{ACCOUNT}:*"]
    assert sns_errors(registration, f"arn:aws:sns:{REGION}:{ACCOUNT}:deployments") == {}


def test_the_account_is_looked_up_once(aws_channels, registration):
    calls = []
    sts = channel_aws.client("sts")
    sts.meta.events.register("before-call.sts.GetCallerIdentity", lambda **_: calls.append(1))
    for _ in range(3):
        assert sns_errors(registration, "deployments") == {}
    assert len(calls) == 1


def test_the_api_refuses_a_topic_of_another_account(aws_channels, api):
    topic = f"arn:aws:sns:{REGION}:{OTHER_ACCOUNT}:theirs"
    response = register(api, {"sns_notification": {"topic": topic}})
    assert response.status_code == 400
    (message,) = response.json()["notifications"][0]["sns_notification"]["topic"]
    assert "NOTIFIER_SNS_TOPIC_ALLOWED" in message
    assert not Registration.objects.exists()


def test_an_sns_setup_written_straight_into_the_database_does_not_publish(
    aws_channels, registration, failed_event, settings
):
    sns_client = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    arn = sns_client.create_topic(Name="deployments")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="deployments")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns_client.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    settings.NOTIFIER_SNS_TOPIC_ALLOWED = [f"arn:aws:sns:*:{ACCOUNT}:allowed-*"]
    setup = SnsSetup.objects.create(registration=registration, topic=arn)

    with pytest.raises(ChannelError) as caught:
        sns.send(failed_event, setup)

    assert not caught.value.retryable and caught.value.code == ErrorCode.BAD_CONFIG
    assert "NOTIFIER_SNS_TOPIC_ALLOWED" in caught.value.message
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


def test_a_topic_name_is_published_in_the_services_own_account(
    aws_channels, registration, failed_event
):
    """Not the deployment's account: a deployment seen through another source must not make
    a topic name resolve in that account."""
    from dataclasses import replace

    arn = boto3.client("sns", region_name=REGION).create_topic(Name="deployments")["TopicArn"]
    event = replace(failed_event, account=OTHER_ACCOUNT)
    delivery = sns.send(event, SnsSetup(registration=registration, topic="deployments"))
    assert delivery.detail.startswith("SNS message")
    assert arn.split(":")[4] == ACCOUNT


def test_a_send_while_sts_is_unreachable_is_retried_not_dropped(
    aws_channels, registration, failed_event, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{free_port()}")
    channel_aws.reset_clients()
    setup = SnsSetup(registration=registration, topic=f"arn:aws:sns:{REGION}:{ACCOUNT}:deployments")
    with pytest.raises(ChannelError) as caught:
        sns.send(failed_event, setup)
    assert caught.value.retryable
