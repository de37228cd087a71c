"""What a push queue's message says: CodeDeploy's EventBridge event, directly or inside an
SNS envelope, or why it is ignored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.events import Event
from notifier.push_messages import (
    HANDLERS,
    INSTANCE_EVENT,
    MALFORMED,
    MAX_BODY_BYTES,
    UNKNOWN_DETAIL_TYPE,
    UNKNOWN_STATE,
    Ignored,
    PushedDeployment,
    message_classify,
)

FIXTURE = Path(__file__).parents[1] / "fixtures/codedeploy/eventbridge-deployment-success.json"


def event(**detail) -> dict:
    document = json.loads(FIXTURE.read_text())
    document["detail"].update(detail)
    return document


def test_codedeploys_success_event_is_a_succeeded_deployment():
    pushed = message_classify(FIXTURE.read_text())
    assert pushed == PushedDeployment(
        deployment_id="d-7QK2M4ZP1",
        application="storefront",
        deployment_group="production",
        event=Event.SUCCEEDED,
        account="123456789012",
        region="us-east-1",
        time=datetime(2026, 11, 27, 16, 3, 8, tzinfo=UTC),
    )
    assert pushed.status == "Succeeded"


@pytest.mark.parametrize(
    ("state", "expected", "status"),
    [
        ("START", Event.STARTED, "InProgress"),
        ("SUCCESS", Event.SUCCEEDED, "Succeeded"),
        ("FAILURE", Event.FAILED, "Failed"),
        ("STOP", Event.STOPPED, "Stopped"),
        ("READY", Event.READY, "Ready"),
    ],
)
def test_each_state_is_its_event(state, expected, status):
    pushed = message_classify(json.dumps(event(state=state)))
    assert (pushed.event, pushed.status) == (expected, status)


def test_an_event_routed_through_sns_is_unwrapped():
    envelope = {
        "Type": "Notification",
        "MessageId": "0f2c",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:codedeploy",
        "Message": json.dumps(event(state="FAILURE")),
    }
    pushed = message_classify(json.dumps(envelope))
    assert (pushed.deployment_id, pushed.event) == ("d-7QK2M4ZP1", Event.FAILED)


def test_an_event_without_its_account_says_so_with_an_empty_account():
    document = event()
    del document["account"]
    assert message_classify(json.dumps(document)).account == ""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json {", MALFORMED),
        ("[1, 2]", MALFORMED),
        (json.dumps({"detail": {}}), MALFORMED),
        (json.dumps(event(deploymentId="")), MALFORMED),
        (json.dumps({**event(), "detail": "text"}), MALFORMED),
        (json.dumps({"Type": "Notification", "Message": "not json"}), MALFORMED),
        (json.dumps({**event(), "detail-type": "EC2 Instance State-change"}), UNKNOWN_DETAIL_TYPE),
        (
            json.dumps({**event(), "detail-type": "CodeDeploy Instance State-change Notification"}),
            INSTANCE_EVENT,
        ),
        (json.dumps(event(state="EXPLODED")), UNKNOWN_STATE),
    ],
)
def test_what_is_not_a_deployment_event_is_ignored_with_its_reason(body, reason):
    result = message_classify(body)
    assert isinstance(result, Ignored) and result.reason == reason


def test_a_body_over_sqs_limit_is_malformed_without_being_parsed():
    document = event()
    document["padding"] = "x" * MAX_BODY_BYTES
    result = message_classify(json.dumps(document))
    assert result == Ignored(MALFORMED, f"the body is over {MAX_BODY_BYTES} bytes")


def test_classification_is_a_table_from_detail_type_to_handler():
    assert set(HANDLERS) == {
        "CodeDeploy Deployment State-change Notification",
        "CodeDeploy Instance State-change Notification",
        "AWS API Call via CloudTrail",  # who deployed: notifier.whodeployed
    }
