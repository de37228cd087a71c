"""/healthz answers load balancers without a session: the status, the lag and the name of
the failing part ("polling" or "storage"), nothing else. Error text (an AWS error names a
role ARN and an account id; a storage error names tables and hosts) shows only on /status/,
behind sign-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifier.storage import get_health_store
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


def failing_for(seconds: float) -> None:
    OrmStore().poll_state_save(
        PollState(
            last_success=timezone.now() - timedelta(seconds=seconds + 1),
            last_error=AWS_ERROR,
            last_error_at=timezone.now(),
            failing_since=timezone.now() - timedelta(seconds=seconds),
        )
    )


def test_healthz_answers_only_the_status_the_lag_and_the_failing_part(client):
    stalled_with_an_aws_error()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"status", "poll_lag_seconds", "failing"}
    assert body["failing"] == "polling"
    assert body["status"] == "unhealthy" and body["poll_lag_seconds"] >= 3600
    assert "123456789012" not in response.content.decode()
    assert "arn:aws" not in response.content.decode()


def test_the_last_aws_error_shows_on_the_status_page_to_a_signed_in_user(client):
    stalled_with_an_aws_error()
    assert client.get("/status/").status_code == 302
    client.force_login(user("alice"))
    page = client.get("/status/").content.decode()
    assert "arn:aws:sts::123456789012:assumed-role/notifier-poller" in page


def test_healthz_answers_503_once_polling_has_failed_for_notifier_unhealthy_after(client, settings):
    settings.NOTIFIER_UNHEALTHY_AFTER = 5
    failing_for(6)  # the last success is 7 s old: far younger than the stale limit
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == "polling"
    assert "123456789012" not in response.content.decode()


def test_healthz_stays_200_through_a_failure_younger_than_notifier_unhealthy_after(
    client, settings
):
    settings.NOTIFIER_UNHEALTHY_AFTER = 5
    failing_for(2)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_is_200_again_after_the_next_success(client, settings):
    settings.NOTIFIER_UNHEALTHY_AFTER = 5
    failing_for(60)
    assert client.get("/healthz").status_code == 503
    store = OrmStore()
    state = store.poll_state_get()
    state.last_success, state.last_error, state.failing_since = timezone.now(), "", None
    store.poll_state_save(state)  # what a successful cycle saves (tests/notifier/test_poller.py)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "failing" not in response.json()


def test_the_status_page_names_polling_failing_and_since_when(client, settings):
    settings.NOTIFIER_UNHEALTHY_AFTER = 5
    failing_for(125)
    client.force_login(user("alice"))
    page = client.get("/status/").content.decode()
    assert "Polling CodeDeploy has failed since " in page
    assert " UTC (2 min): AccessDeniedException: User: arn:aws:sts::" in page
    assert "keeping up" not in page


def test_the_status_page_names_a_young_failure_too(client, settings):
    settings.NOTIFIER_UNHEALTHY_AFTER = 5
    failing_for(2)
    client.force_login(user("alice"))
    page = client.get("/status/").content.decode()
    assert "Polling CodeDeploy has failed since " in page
    assert "keeping up" not in page


def test_healthz_says_only_storage_when_the_store_fails(client, aws, settings):
    settings.NOTIFIER_STORAGE = "dynamodb"
    settings.NOTIFIER_DYNAMODB_TABLE_PREFIX = "secret-prefix-"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unhealthy",
        "poll_lag_seconds": None,
        "failing": "storage",
    }


def test_healthz_reads_dynamodb_with_one_short_try(settings):
    settings.NOTIFIER_STORAGE = "dynamodb"
    config = get_health_store().client.meta.config
    assert config.retries["total_max_attempts"] == 1
    assert config.connect_timeout <= 0.5 and config.read_timeout <= 0.5
