"""Who deployed, by push: CloudTrail's "AWS API Call via CloudTrail" event for
codedeploy:CreateDeployment, on the same queue as CodeDeploy's own events, names the deployer
of the deployment the consumer stores (moto's CodeDeploy over HTTP)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from channels.webhook import WebhookSetup
from notifier.push_batch import FAILED_CALL, PushBatch
from notifier.push_messages import (
    CLOUDTRAIL_API_CALL,
    OTHER_API_CALL,
    Ignored,
    PushedPrincipal,
    message_classify,
)
from notifier.sources import boto3_session_for
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.sources import Source, source_default
from tests.support.cloudtrail import create_deployment_record, iam_user

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/codedeploy-events"


def cloudtrail_event(record: dict) -> str:
    """The EventBridge event CloudTrail's record arrives in, as AWS documents it."""
    return json.dumps(
        {
            "version": "0",
            "id": "6f87d04b-9f74-4f04-a780-7acf4b0a9b38",
            "detail-type": CLOUDTRAIL_API_CALL,
            "source": "aws.codedeploy",
            "account": "123456789012",
            "time": record["eventTime"],
            "region": "us-east-1",
            "resources": [],
            "detail": record,
        }
    )


def state_change(deployment_id: str, state: str) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "c6a1b6f4-1c8a-4a8b-bb0e-0d7a7c1e2f3a",
            "detail-type": "CodeDeploy Deployment State-change Notification",
            "source": "aws.codedeploy",
            "account": "123456789012",
            "time": "2026-11-29T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "region": "us-east-1",
                "application": "storefront",
                "deploymentId": deployment_id,
                "state": state,
                "deploymentGroup": "production",
            },
        }
    )


def test_a_create_deployment_record_is_a_pushed_principal():
    record = create_deployment_record("d-AAAAAAAAA", identity=iam_user("ana"))
    pushed = message_classify(cloudtrail_event(record))
    assert isinstance(pushed, PushedPrincipal)
    assert (pushed.account, pushed.region) == ("123456789012", "us-east-1")
    other = message_classify(cloudtrail_event({**record, "eventName": "StopDeployment"}))
    assert other == Ignored(OTHER_API_CALL, "codedeploy.amazonaws.com StopDeployment")


def test_the_consumer_names_who_deployed_from_the_same_queue(codedeploy):
    boto3_session_for.cache_clear()
    source_default()
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    WebhookSetup.objects.create(
        registration=registration, url="https://hooks.example.com/x", events=["started"]
    )
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "InProgress")
    record = create_deployment_record(deployment, identity=iam_user("ana"))
    refused = create_deployment_record("d-NONE00000", identity=iam_user("zed"))
    refused["responseElements"] = None
    messages = [
        {"MessageId": "1", "Body": cloudtrail_event(record)},
        {"MessageId": "2", "Body": state_change(deployment, "START")},
        {"MessageId": "3", "Body": cloudtrail_event(refused)},
    ]
    store = OrmStore()
    sources = [s.config() for s in Source.objects.filter(enabled=True)]

    outcome = PushBatch(queue_url=QUEUE_URL, store=store).handle(
        messages, sources=sources, now=timezone.now()
    )

    assert outcome.acted == 2
    assert outcome.ignored == {FAILED_CALL: 1}
    stored = store.deployment_get(deployment).event
    assert stored.deployer.name == "ana (IAM user)"
    (delivery,) = store.deployment_get(deployment).deliveries
    assert delivery.event.started_by == "ana (IAM user)"
