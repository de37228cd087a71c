"""The demo's simulated AWS over HTTP with boto3: moto plus what moto does not implement
(CloudTrail LookupEvents, CodeDeploy deployment targets, a deployment's error and rollback),
read by the product's own code exactly as it reads AWS."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from notifier import cloudtrail, codedeploy, targets
from notifier.demo import shapes
from notifier.demo.aws import SimulatedAws
from notifier.demo.world import FAILURES, PEOPLE, application, source, topic_arn
from notifier.events import Event
from notifier.log_tail import MASK
from notifier.sources import SourceConfig, boto3_session_for

EU = source("payments-eu")
DEFAULT = source("default")
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


def _record(aws, deployment_id: str, *, where=DEFAULT, who=PEOPLE[0], at=None) -> dict:
    record = shapes.create_deployment_record(
        deployment_id=deployment_id,
        source=where,
        application="storefront",
        group="production",
        who=shapes.identity(who, where.account, random.Random(1)),
    )
    if at is not None:
        record["eventTime"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    aws.extras.add_cloudtrail_record(where.region, record)
    return record


def _lookup(client, **params) -> dict:
    return client.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateDeployment"}],
        **params,
    )


def _ids(answer: dict) -> list[str]:
    return [
        json.loads(e["CloudTrailEvent"])["responseElements"]["deploymentId"]
        for e in answer["Events"]
    ]


def _failed_deployment(aws) -> str:
    """A failed storefront deployment in moto, its error, rollback and targets in the extras."""
    deployment = aws.deployment_add(
        DEFAULT.account,
        DEFAULT.region,
        application="storefront",
        group="production",
        deployment_id="d-FAILED001",
        revision=shapes.revision(application("storefront"), "r1", random.Random(1), "1"),
        description="Release r1",
        creator="user",
    )
    deployment.status = "Failed"
    aws.extras.set_details(
        "d-FAILED001",
        errorInformation={"code": "HEALTH_CONSTRAINTS", "message": "too few healthy instances"},
        rollbackInfo={"rollbackDeploymentId": "d-ROLLBACK1", "rollbackMessage": "Rolled back"},
    )
    aws.extras.add_targets(
        "d-FAILED001",
        shapes.targets(
            app=application("storefront"),
            source=DEFAULT,
            deployment="d-FAILED001",
            count=3,
            status="Failed",
            started=time.time() - 30,
            failure=FAILURES[0],
            release="r1",
        ),
    )
    return "d-FAILED001"


def test_the_world_is_made_in_each_account_and_region(aws):
    eu = aws.client("codedeploy", EU.account, EU.region)
    assert sorted(eu.list_applications()["applications"]) == ["ledger-worker", "payments"]
    default = boto3.client("codedeploy")  # the service's own credentials, from the environment
    assert "search-indexer" in default.list_applications()["applications"]
    group = default.get_deployment_group(
        applicationName="checkout-api", deploymentGroupName="ecs-production"
    )["deploymentGroupInfo"]
    assert group["deploymentStyle"]["deploymentType"] == "BLUE_GREEN"
    assert group["computePlatform"] == "ECS"
    sns = aws.client("sns", EU.account, EU.region)
    assert topic_arn("payments-eu") in [t["TopicArn"] for t in sns.list_topics()["Topics"]]


def test_a_role_source_of_the_product_acts_in_the_second_account(aws):
    config = SourceConfig(name="payments-eu", region=EU.region, role_arn=EU.role_arn)
    client = codedeploy.make_client(session=boto3_session_for(config))
    assert sorted(client.list_applications()["applications"]) == ["ledger-worker", "payments"]


def test_lookup_events_pages_newest_first_within_the_time_window(aws):
    now = datetime.now(UTC).replace(microsecond=0)
    for minutes in range(5):
        _record(aws, f"d-PAGE0000{minutes}", at=now - timedelta(minutes=minutes))
    _record(aws, "d-OLD000000", at=now - timedelta(hours=3))
    client, bucket = boto3.client("cloudtrail"), cloudtrail.TokenBucket()
    window = {"StartTime": now - timedelta(hours=1), "EndTime": now, "MaxResults": 3}
    bucket.take()
    first = _lookup(client, **window)
    assert _ids(first) == ["d-PAGE00000", "d-PAGE00001", "d-PAGE00002"]
    bucket.take()
    rest = _lookup(client, **window, NextToken=first["NextToken"])
    assert _ids(rest) == ["d-PAGE00003", "d-PAGE00004"]
    assert "NextToken" not in rest


def test_lookup_events_keeps_each_region_apart_and_filters_by_event_name(aws):
    _record(aws, "d-EUROPE001", where=EU)
    eu = aws.client("cloudtrail", EU.account, EU.region)
    assert _ids(_lookup(eu)) == ["d-EUROPE001"]
    us = aws.client("cloudtrail", DEFAULT.account, DEFAULT.region)
    assert _lookup(us)["Events"] == []
    stops = [{"AttributeKey": "EventName", "AttributeValue": "StopDeployment"}]
    assert eu.lookup_events(LookupAttributes=stops)["Events"] == []


def test_a_third_lookup_within_a_second_is_throttled_as_aws_does(aws):
    client = boto3.client("cloudtrail", config=ONE_ATTEMPT)
    _lookup(client)
    _lookup(client)
    with pytest.raises(ClientError) as refused:
        _lookup(client)
    assert refused.value.response["Error"]["Code"] == "ThrottlingException"
    assert aws.extras.throttled == 1


def test_the_products_lookup_names_each_person_over_several_pages(aws):
    now = datetime.now(UTC).replace(microsecond=0)
    for number in range(60):
        who = PEOPLE[number % 2]
        _record(aws, f"d-MANY{number:05d}", who=who, at=now - timedelta(seconds=number))
    found, calls = cloudtrail.lookup_principals(
        boto3.client("cloudtrail", config=cloudtrail.CLIENT_CONFIG),
        start=now - timedelta(hours=1),
        end=now + timedelta(seconds=1),
        bucket=cloudtrail.TokenBucket(),
    )
    assert calls == 2 and len(found) == 60
    assert found["d-MANY00000"].user_name == "maria.garcia"
    assert found["d-MANY00001"].session_name == "sam.lee@example.com"
    assert aws.extras.throttled == 0


def test_deployment_targets_are_listed_by_status_and_got_in_batches(aws):
    deployment_id = _failed_deployment(aws)
    client = boto3.client("codedeploy")
    failed = client.list_deployment_targets(
        deploymentId=deployment_id, targetFilters={"TargetStatus": ["Failed"]}
    )["targetIds"]
    every = client.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    assert len(failed) == 1 and len(every) == 3
    got = client.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=every)
    statuses = sorted(t["instanceTarget"]["status"] for t in got["deploymentTargets"])
    assert statuses == ["Failed", "Skipped", "Skipped"]
    with pytest.raises(ClientError) as refused:
        client.batch_get_deployment_targets(
            deploymentId=deployment_id, targetIds=[f"i-{n}" for n in range(26)]
        )
    assert "targetIds" in refused.value.response["Error"]["Message"]


def test_a_failed_deployment_reads_with_its_error_and_rollback(aws):
    deployment_id = _failed_deployment(aws)
    info = codedeploy.batch_get(codedeploy.make_client(), [deployment_id])[0]
    event = codedeploy.normalise(info, event=Event.FAILED, region=DEFAULT.region)
    assert event.status == "Failed"
    assert event.error_code == "HEALTH_CONSTRAINTS"
    assert event.error_message == "too few healthy instances"
    assert event.rollback.rollback_deployment_id == "d-ROLLBACK1"
    assert event.compute_platform == "Server"
    single = boto3.client("codedeploy").get_deployment(deploymentId=deployment_id)
    assert single["deploymentInfo"]["rollbackInfo"]["rollbackMessage"] == "Rolled back"


def test_the_failure_point_names_the_hook_with_the_secret_masked(aws):
    deployment_id = _failed_deployment(aws)
    client = codedeploy.make_client(config=targets.TARGETS_CONFIG)
    failure = targets.failure_point(client, deployment_id)
    assert failure.lifecycle_event == "ApplicationStart"
    assert failure.script_name == "scripts/start_server.sh"
    assert "EADDRINUSE" in failure.log_tail
    assert f"DB_PASSWORD={MASK}" in failure.log_tail
    assert "s3cr3t" not in failure.log_tail


def test_a_reset_forgets_moto_and_the_extras(aws):
    deployment_id = _failed_deployment(aws)
    _record(aws, deployment_id)
    aws.reset()
    assert aws.extras.targets == {} and aws.extras.cloudtrail == {}
    assert boto3.client("codedeploy").list_applications()["applications"] == []


def test_a_second_simulated_aws_in_the_process_is_refused_while_one_runs(aws):
    second = SimulatedAws(host="127.0.0.1", port=0)
    with pytest.raises(
        RuntimeError, match=f"one per process.*{aws.endpoint.removeprefix('http://')}"
    ):
        second.start()
    assert boto3.client("codedeploy").list_applications()["applications"]  # the first serves on
