"""notifier.health: one answer to "is the poller keeping up?" for /healthz and /status/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import NoCredentialsError, NoRegionError

from notifier.health import poll_health, unhealthy_after_seconds
from notifier.poll_errors import describe_aws_error
from notifier.storage.base import PollState

NOW = datetime(2026, 11, 29, 12, 5, 10, tzinfo=UTC)
ERROR = "could not reach AWS CodeDeploy: Could not connect to the endpoint URL"


def health(state: PollState | None, **kwargs):
    return poll_health(state=state, now=NOW, poll_interval=1.0, unhealthy_after=5.0, **kwargs)


def test_it_defaults_to_five_poll_intervals_and_at_least_ten_seconds():
    assert unhealthy_after_seconds(poll_interval=2.0) == 10.0
    assert unhealthy_after_seconds(poll_interval=0.5) == 10.0
    assert unhealthy_after_seconds(poll_interval=6.0) == 30.0
    assert unhealthy_after_seconds(poll_interval=6.0, configured=3.0) == 3.0


def test_it_is_keeping_up_after_a_recent_success():
    result = health(PollState(last_success=NOW - timedelta(seconds=1)))
    assert result.healthy and result.keeping_up and result.failing_part == ""
    assert result.headline == "The poller is keeping up."
    assert result.public() == {"status": "ok", "poll_lag_seconds": 1.0}


def test_it_names_a_young_failure_but_stays_healthy_until_unhealthy_after():
    state = PollState(
        last_success=NOW - timedelta(seconds=4),
        last_error=ERROR,
        failing_since=NOW - timedelta(seconds=3),
    )
    result = health(state)
    assert result.healthy and not result.keeping_up
    assert result.failing_part == "polling"
    assert result.headline == f"Polling CodeDeploy has failed since 12:05:07 UTC (3 s): {ERROR}"


def test_it_is_unhealthy_once_polling_has_failed_for_unhealthy_after():
    state = PollState(
        last_success=NOW - timedelta(seconds=130),
        last_error=ERROR,
        failing_since=NOW - timedelta(seconds=120),
    )
    result = health(state)
    assert not result.healthy
    assert result.failing_since == NOW - timedelta(seconds=120)
    assert result.headline.startswith("Polling CodeDeploy has failed since 12:03:10 UTC (2 min): ")
    assert result.public() == {
        "status": "unhealthy",
        "poll_lag_seconds": 130.0,
        "failing": "polling",
    }


def test_its_public_answer_never_carries_the_error():
    state = PollState(
        last_success=NOW - timedelta(seconds=60),
        last_error="AWS denied arn:aws:sts::123456789012:assumed-role/poller",
        failing_since=NOW - timedelta(seconds=60),
    )
    assert "123456789012" not in str(health(state).public())


def test_it_is_unhealthy_when_no_cycle_has_succeeded_for_long():
    result = health(PollState(last_success=NOW - timedelta(hours=1, minutes=5)))
    assert not result.healthy and result.failing_part == "polling"
    assert result.headline == "The poller has not succeeded for 1 h 5 min."
    assert "qcluster" in result.advice


def test_it_is_unhealthy_before_the_first_success():
    result = health(PollState())
    assert not result.healthy
    assert result.headline == "The poller has never completed a check of CodeDeploy."


def test_it_names_storage_when_the_poll_state_cannot_be_read():
    result = health(None, storage_error="could not reach DynamoDB for poll_state_get")
    assert not result.healthy and result.failing_part == "storage"
    assert result.public() == {
        "status": "unhealthy",
        "poll_lag_seconds": None,
        "failing": "storage",
    }
    assert "could not reach DynamoDB" in result.headline


def test_a_source_with_a_push_queue_is_not_late_between_reconciling_polls(settings):
    from notifier.health import sources_health

    settings.NOTIFIER_POLL_INTERVAL = 2
    settings.NOTIFIER_RECONCILE_INTERVAL = 300  # polls 300 s apart: 10 intervals is 50 min
    states = {
        "pushed": PollState(last_success=NOW - timedelta(seconds=600)),
        "polled": PollState(last_success=NOW - timedelta(seconds=30)),
    }
    health = sources_health(states=states, now=NOW, pushed=frozenset({"pushed"}))
    assert health.healthy, health.headline

    states["polled"] = PollState(last_success=NOW - timedelta(seconds=600))
    health = sources_health(states=states, now=NOW, pushed=frozenset({"pushed"}))
    assert not health.healthy
    assert health.source == "polled"


def test_a_poll_that_never_succeeded_for_want_of_a_region_is_not_configured_at_once():
    error = describe_aws_error(NoRegionError())
    result = health(PollState(last_error=error, failing_since=NOW - timedelta(seconds=1)))
    assert not result.healthy and result.not_configured
    assert result.public() == {
        "status": "not configured",
        "poll_lag_seconds": None,
        "failing": "aws_region",
    }


def test_credentials_lost_after_a_success_are_a_polling_failure_not_a_first_run():
    state = PollState(
        last_success=NOW - timedelta(seconds=130),
        last_error=describe_aws_error(NoCredentialsError()),
        failing_since=NOW - timedelta(seconds=120),
    )
    result = health(state)
    assert not result.not_configured
    assert result.public()["status"] == "unhealthy" and result.failing_part == "polling"
