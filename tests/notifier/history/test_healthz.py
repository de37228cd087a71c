"""/healthz answers load balancers without a session: the status and the lag, nothing else.
Error text (an AWS error names a role ARN and an account id; a storage error names tables
and hosts) shows only on /status/, behind sign-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifier.storage.base import PollState
from notifier.storage.orm import OrmStore
from tests.support.history import user

pytestmark = pytest.mark.django_db

AWS_ERROR = (
    "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/notifier-poller/i-0abc "
    "is not authorized to perform: codedeploy:ListDeployments"
)


def stalled_with_an_aws_error() -> None:
    OrmStore().poll_state_save(
        PollState(
            last_success=timezone.now() - timedelta(hours=1),
            last_error=AWS_ERROR,
            last_error_at=timezone.now(),
        )
    )


def test_healthz_answers_only_the_status_and_the_lag(client):
    stalled_with_an_aws_error()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"status", "poll_lag_seconds"}
    assert body["status"] == "unhealthy" and body["poll_lag_seconds"] >= 3600
    assert "123456789012" not in response.content.decode()
    assert "arn:aws" not in response.content.decode()


def test_the_last_aws_error_shows_on_the_status_page_to_a_signed_in_user(client):
    stalled_with_an_aws_error()
    assert client.get("/status/").status_code == 302
    client.force_login(user("alice"))
    page = client.get("/status/").content.decode()
    assert "arn:aws:sts::123456789012:assumed-role/notifier-poller" in page


def test_healthz_says_only_storage_unreachable_when_the_store_fails(client, aws, settings):
    settings.NOTIFIER_STORAGE = "dynamodb"
    settings.NOTIFIER_DYNAMODB_TABLE_PREFIX = "secret-prefix-"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "reason": "storage unreachable"}
