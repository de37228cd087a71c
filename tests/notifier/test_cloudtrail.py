"""Who called CreateDeployment, from CloudTrail: the record's parser, and the poll path's
lookups against a local CloudTrail speaking the real JSON protocol (moto has no LookupEvents)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from notifier.cloudtrail import CLIENT_CONFIG, TokenBucket, cloudtrail_principal, lookup_principals
from notifier.sources import SourceConfig
from notifier.storage.orm import OrmStore
from notifier.whodeployed import cloudtrail_event_record, principals_lookup
from registrations.people import DeploymentPrincipal
from tests.notifier.test_poller import poll, register
from tests.support.cloudtrail import assumed_role, create_deployment_record, iam_user

DEFAULT = SourceConfig(name="default")
pytestmark = pytest.mark.django_db(transaction=True)


def test_an_iam_users_record_names_the_user():
    record = create_deployment_record("d-AAAAAAAAA", identity=iam_user("ana"))
    deployment_id, principal = cloudtrail_principal(record)
    assert deployment_id == "d-AAAAAAAAA"
    assert (principal.type, principal.user_name) == ("IAMUser", "ana")
    assert principal.arn == "arn:aws:iam::123456789012:user/ana"
    assert principal.event_time is not None


def test_an_assumed_roles_record_names_the_session_and_the_role():
    identity = assumed_role("deploy-bot", "ana@example.com")
    _, principal = cloudtrail_principal(create_deployment_record("d-B", identity=identity))
    assert principal.session_name == "ana@example.com"
    assert principal.role_arn == "arn:aws:iam::123456789012:role/deploy-bot"
    assert principal.role_name == "deploy-bot"
    assert principal.invoked_by == ""


def test_a_call_made_by_codepipeline_says_so():
    identity = assumed_role(
        "pipeline-role", "1700000000000", invoked_by="codepipeline.amazonaws.com"
    )
    _, principal = cloudtrail_principal(create_deployment_record("d-C", identity=identity))
    assert principal.invoked_by == "codepipeline.amazonaws.com"


def test_other_calls_and_refused_calls_are_not_principals():
    record = create_deployment_record("d-D", identity=iam_user("ana"))
    assert cloudtrail_principal({**record, "eventName": "StopDeployment"}) is None
    assert cloudtrail_principal({**record, "responseElements": None}) is None
    assert cloudtrail_principal({**record, "eventSource": "s3.amazonaws.com"}) is None
    assert cloudtrail_principal("not a record") is None


def test_a_poll_then_one_lookup_names_who_created_each_new_deployment(codedeploy, cloudtrail):
    register("storefront", events=["started", "succeeded"])
    store = OrmStore()
    first, second = codedeploy.deploy("storefront"), codedeploy.deploy("storefront")
    codedeploy.move(first, "InProgress")
    codedeploy.move(second, "InProgress")
    cloudtrail.add(create_deployment_record(first, identity=iam_user("ana")))
    cloudtrail.add(create_deployment_record(second, identity=assumed_role("ci", "build-7")))
    cloudtrail.add(create_deployment_record("d-NOTOURS00", identity=iam_user("zed")))

    report = poll(store)
    assert {e.deployer.name for e in report.events} == {""}  # CloudTrail not asked yet
    assert principals_lookup(store, DEFAULT) == 2

    assert len(cloudtrail.requests) == 1  # one window for both, not one call each
    asked = cloudtrail.requests[0]["LookupAttributes"]
    assert asked == [{"AttributeKey": "EventName", "AttributeValue": "CreateDeployment"}]
    assert store.deployment_get(first).event.deployer.name == "ana (IAM user)"
    assert store.deployment_get(second).event.deployer.name == "ci (role)"
    assert not DeploymentPrincipal.objects.filter(deployment_id="d-NOTOURS00").exists()

    assert principals_lookup(store, DEFAULT) == 0  # found ones are never looked up again
    assert len(cloudtrail.requests) == 1


def test_a_principal_not_in_cloudtrail_yet_is_looked_up_again_later(
    codedeploy, cloudtrail, settings
):
    settings.NOTIFIER_DEPLOYER_LOOKUP_EVERY = 0
    register("storefront")
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    poll(store)

    assert principals_lookup(store, DEFAULT) == 0
    assert DeploymentPrincipal.objects.get(deployment_id=deployment).lookups == 1
    cloudtrail.add(create_deployment_record(deployment, identity=iam_user("ana")))
    time.sleep(0.6)  # the rate limit's spacing
    assert principals_lookup(store, DEFAULT) == 1
    assert store.deployment_get(deployment).event.deployer.name == "ana (IAM user)"


def test_a_deployment_older_than_the_lookup_period_is_given_up(codedeploy, cloudtrail, settings):
    register("storefront")
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    poll(store)
    later = datetime.now(UTC) + timedelta(seconds=settings.NOTIFIER_DEPLOYER_LOOKUP_FOR + 5)
    assert principals_lookup(store, DEFAULT, now=later) == 0
    assert cloudtrail.requests == []


def test_only_deployments_a_user_created_are_looked_up(codedeploy, cloudtrail):
    register("storefront")
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded", creator="autoscaling")
    report = poll(store)
    assert report.events[0].deployer.name == "Auto Scaling"
    assert principals_lookup(store, DEFAULT) == 0
    assert cloudtrail.requests == []


def _many_records(cloudtrail, count: int) -> datetime:
    now = datetime.now(UTC)
    for number in range(count):
        cloudtrail.add(create_deployment_record(f"d-{number:09d}", identity=iam_user("ana")))
    cloudtrail.page_size = 5
    return now


def _client():
    return boto3.client("cloudtrail", config=CLIENT_CONFIG)


def test_lookups_keep_within_two_requests_a_second(cloudtrail):
    now = _many_records(cloudtrail, 30)
    began = time.monotonic()
    found, calls = lookup_principals(
        _client(),
        start=now - timedelta(minutes=5),
        end=now + timedelta(minutes=1),
        bucket=TokenBucket(),
    )
    assert (len(found), calls) == (30, 6)
    assert cloudtrail.throttled == 0
    assert time.monotonic() - began >= 2.4  # six calls, half a second apart


def test_without_the_limit_cloudtrail_would_throttle(cloudtrail):
    now = _many_records(cloudtrail, 30)
    with pytest.raises(ClientError):
        for _ in range(3):
            lookup_principals(
                boto3.client(
                    "cloudtrail",
                    config=CLIENT_CONFIG.merge(boto3.session.Config(retries={"max_attempts": 1})),
                ),
                start=now - timedelta(minutes=5),
                end=now + timedelta(minutes=1),
                bucket=TokenBucket(rate=1000),
            )
    assert cloudtrail.throttled > 0


def test_lookups_are_bounded_by_their_page_limit(cloudtrail):
    now = _many_records(cloudtrail, 30)
    found, calls = lookup_principals(
        _client(),
        start=now - timedelta(minutes=5),
        end=now + timedelta(minutes=1),
        bucket=TokenBucket(rate=100),
        max_pages=2,
    )
    assert (len(found), calls) == (10, 2)


def test_a_pushed_cloudtrail_event_names_the_deployer(codedeploy):
    register("storefront")
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    poll(store)
    detail = create_deployment_record(deployment, identity=iam_user("ana"))

    assert cloudtrail_event_record(detail, store=store, source="default") == deployment
    assert store.deployment_get(deployment).event.deployer.name == "ana (IAM user)"
    assert cloudtrail_event_record({"eventName": "Other"}, store=store, source="default") is None
