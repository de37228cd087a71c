"""notifier.sources against moto's STS over HTTP: a role assumed through moto acts in the
role's account, so several accounts are testable in one moto server."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from dateutil.tz import tzlocal

from notifier.sources import (
    ROLE_SESSION_NAME,
    SourceConfig,
    SourceError,
    assumed_role_credentials,
    boto3_session_for,
    source_account_id,
)
from tests.support.aws import ACCOUNT
from tests.support.sts import DenyingSts

OTHER_ACCOUNT = "210987654321"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/codedeploy-notifier"


@pytest.fixture(autouse=True)
def fresh_sessions(aws):
    boto3_session_for.cache_clear()
    yield
    boto3_session_for.cache_clear()


@pytest.fixture
def denying_sts(aws, httpserver, monkeypatch) -> DenyingSts:
    relay = DenyingSts(httpserver, aws.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", relay.url)
    return relay


def assumed_roles() -> list:
    from moto.sts.models import sts_backends

    return list(sts_backends[OTHER_ACCOUNT]["aws"].assumed_roles)


def test_it_uses_the_services_own_account_without_a_role():
    assert source_account_id(SourceConfig(name="default")) == ACCOUNT


def test_a_role_source_acts_in_the_roles_account():
    config = SourceConfig(name="prod", region="eu-west-1", role_arn=ROLE, external_id="x-123")
    assert source_account_id(config) == OTHER_ACCOUNT
    (role,) = assumed_roles()
    assert role.role_arn == ROLE
    assert role.session_name == ROLE_SESSION_NAME
    assert role.external_id == "x-123"
    session = boto3_session_for(config)
    assert session.region_name == "eu-west-1"
    assert boto3_session_for(config) is session  # one session, one set of credentials


def test_it_assumes_the_role_again_before_the_credentials_expire():
    now = [datetime.now(tzlocal())]
    credentials = assumed_role_credentials(
        SourceConfig(name="prod", role_arn=ROLE), time_fetcher=lambda: now[0]
    )
    first = credentials.get_frozen_credentials()
    assert len(assumed_roles()) == 1
    assert not credentials.refresh_needed()

    now[0] += timedelta(minutes=50)  # moto's credentials last an hour; botocore refreshes
    assert credentials.refresh_needed()  # within 15 minutes of the end
    second = credentials.get_frozen_credentials()

    assert len(assumed_roles()) == 2
    assert second.access_key != first.access_key


def test_a_role_that_cannot_be_assumed_is_a_clear_error_and_others_still_work(denying_sts):
    denied = f"arn:aws:iam::{OTHER_ACCOUNT}:role/not-trusted"
    denying_sts.denied.add(denied)

    with pytest.raises(SourceError) as caught:
        source_account_id(SourceConfig(name="staging", role_arn=denied, external_id="x-123"))

    message = str(caught.value)
    assert caught.value.code == "role_not_assumed"
    assert "source 'staging'" in message
    assert f"refused to let this service assume {denied} (AccessDenied)" in message
    assert "trust policy" in message and "sts:AssumeRole" in message
    assert "sts:ExternalId" in message and "x-123" not in message
    assert "docs/source-role.json" in message
    assert source_account_id(SourceConfig(name="prod", role_arn=ROLE)) == OTHER_ACCOUNT
    assert source_account_id(SourceConfig(name="default")) == ACCOUNT
    assert denying_sts.assumed == [denied, ROLE]


def test_an_unreachable_sts_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")  # nothing listens
    with pytest.raises(SourceError) as caught:
        source_account_id(SourceConfig(name="prod", role_arn=ROLE))
    assert f"source 'prod': could not assume {ROLE}" in str(caught.value)
    assert "STS is reachable" in str(caught.value)


def test_the_documented_role_trusts_the_service_with_an_external_id_and_reads_codedeploy():
    import json
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    role = json.loads((docs / "source-role.json").read_text())["Resources"]["SourceRole"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    [policy] = [
        p for p in role["Properties"]["Policies"] if p.get("PolicyName") == "read-codedeploy"
    ]
    (read,) = policy["PolicyDocument"]["Statement"]
    service = json.loads((docs / "iam-policy.json").read_text())["Statement"]
    poll = next(s for s in service if s["Sid"] == "PollCodeDeploy")
    assert read["Action"] == poll["Action"]  # the role allows what the poller calls
    assert any(s["Action"] == ["sts:AssumeRole"] for s in service)
