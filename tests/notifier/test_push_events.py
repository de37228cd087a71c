"""Which events a pushed message makes, given the deployment's fresh details from CodeDeploy."""

from __future__ import annotations

import pytest

from notifier.events import Event
from notifier.push_batch import events_for_push, queue_account, source_for
from notifier.push_messages import PushedDeployment
from notifier.sources import SourceConfig


def pushed(event: Event, *, account: str = "", region: str = "us-east-1") -> PushedDeployment:
    return PushedDeployment(
        deployment_id="d-1",
        application="storefront",
        deployment_group="production",
        event=event,
        account=account,
        region=region,
        time=None,
    )


@pytest.mark.parametrize(
    ("event", "fresh", "stored_terminal", "expected"),
    [
        # The usual case: the event, with CodeDeploy's details.
        (Event.STARTED, "InProgress", False, ([Event.STARTED], "InProgress", False)),
        (Event.READY, "InProgress", False, ([Event.READY], "Ready", False)),
        (Event.SUCCEEDED, "Succeeded", False, ([Event.SUCCEEDED], "Succeeded", False)),
        # A start read after the deployment finished: only its outcome, the start is stale.
        (Event.STARTED, "Failed", False, ([Event.FAILED], "Failed", True)),
        (Event.READY, "Stopped", False, ([Event.STOPPED], "Stopped", True)),
        # CodeDeploy's answer lags a terminal event: the event's status is trusted.
        (Event.SUCCEEDED, "InProgress", False, ([Event.SUCCEEDED], "Succeeded", False)),
        (Event.STOPPED, "InProgress", True, ([Event.STOPPED], "Stopped", False)),
        # A start whose deployment is already stored finished (read while AWS lagged).
        (Event.STARTED, "InProgress", True, ([], "", True)),
    ],
)
def test_a_pushed_event_is_checked_against_the_deployments_fresh_status(
    event, fresh, stored_terminal, expected
):
    info = {"deploymentId": "d-1", "status": fresh}
    assert events_for_push(pushed(event), info, stored_terminal=stored_terminal) == expected


def test_an_event_is_matched_to_the_source_of_its_account_and_region(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    ours = SourceConfig(name="default", account_id="123456789012")
    theirs = SourceConfig(name="prod", role_arn="arn:aws:iam::210987654321:role/notifier")
    europe = SourceConfig(name="eu", region="eu-west-1", account_id="123456789012")
    sources = [ours, theirs, europe]
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/codedeploy-events"

    assert source_for(pushed(Event.STARTED), sources, queue_url=queue) == ours
    assert (
        source_for(pushed(Event.STARTED, account="210987654321"), sources, queue_url=queue)
        == theirs
    )
    assert source_for(pushed(Event.STARTED, region="eu-west-1"), sources, queue_url=queue) == europe
    assert (
        source_for(pushed(Event.STARTED, account="999999999999"), sources, queue_url=queue) is None
    )
    assert queue_account(queue) == "123456789012"
